/**
 * Bounds on what a caller may send, checked while a request is decoded, so
 * nothing a caller sends can cost more than its size says. Names longer than
 * any name we serve are refused outright; error messages quote at most a
 * short prefix of a bad value (errors.ts quote()).
 */
export const LIMITS = {
  /**
   * Model, version, view, feature and join key names (the model directory
   * and the views file allow 64 characters).
   */
  maxNameBytes: 128,
  /** Input names of a Predict request. */
  maxInputNameBytes: 256,
  /** Inputs of one Predict request, counted as map entries (a repeated name counts again). */
  maxInputs: 1024,
  /** Entity key columns of one request: a view has at most 8 join keys. */
  maxEntityColumns: 8,
} as const;
