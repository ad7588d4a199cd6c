"""Where documents come from: folders, files, records and iterables (``_documents``,
``_folders``), their checks (``_validation``) and the document converters (``convert``)."""
