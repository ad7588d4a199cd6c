/**
 * Debounce helper for search boxes and other noisy user input.
 *
 * When a user types into a search field, a "keyup" event fires for every
 * key. Sending a request to the server on each one wastes bandwidth and
 * can show results out of order. A debounced function waits until the
 * user has stopped typing for a short pause, then runs once with the
 * latest arguments.
 */

/**
 * Create a debounced version of a function.
 *
 * @param {Function} fn - The function to call after the pause.
 * @param {number} waitMs - How long to wait, in milliseconds, after the
 *     last call before running fn. 250 to 400 ms feels responsive.
 * @returns {Function} A wrapper with a cancel() method that drops any
 *     call that is still waiting.
 */
function debounce(fn, waitMs) {
  let timer = null;

  function debounced(...args) {
    // Every new call restarts the countdown.
    clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      fn.apply(this, args);
    }, waitMs);
  }

  debounced.cancel = function cancel() {
    clearTimeout(timer);
    timer = null;
  };

  return debounced;
}

// Example: only search once the user pauses typing for 300 ms.
// const input = document.querySelector("#search");
// input.addEventListener("input", debounce((event) => {
//   runSearch(event.target.value);
// }, 300));

module.exports = { debounce };
