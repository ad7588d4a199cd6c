"""Ingestion: the pipeline (``_ingest``, threads), its stages (``_stages``), the run lifecycle
(``_run``), options, report, progress and signals, ``harrier copy`` (``_copy``) and the same
stages on a Ray cluster (:mod:`harrier.ingestion.ray`).

The package is ``ingestion``, not ``ingest``: ``harrier.ingest`` is the public function, and a
subpackage of that name would replace it as an attribute of ``harrier`` as soon as it is imported.
"""
