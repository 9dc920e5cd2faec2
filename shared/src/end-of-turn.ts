/**
 * A function that runs `fn` once, at the end of this turn of the event loop (setImmediate),
 * however often it is called meanwhile: what piles up while one burst of events is handled
 * is then written or sent in one go.
 */
export function atEndOfTurn(fn: () => void): () => void {
  let due = false;
  return () => {
    if (due) return;
    due = true;
    setImmediate(() => {
      due = false;
      fn();
    });
  };
}
