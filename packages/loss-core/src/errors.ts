/** Stable machine-readable error codes thrown by anchorage packages. */
export type AnchorageErrorCode =
  | 'INVALID_ARGUMENT'
  | 'DIMENSION_MISMATCH'
  | 'NON_FINITE'
  | 'LABEL_OUT_OF_RANGE'
  | 'NOT_FOUND'
  | 'CORRUPT_FILE'
  | 'UNSUPPORTED_VERSION'
  | 'UNSUPPORTED'
  | (string & {});

/**
 * The one error type anchorage throws for bad input. `argument` names the offending argument and
 * `value` carries the offending value (or a short description of it).
 * @example
 * try { camLoss(input) } catch (e) { if (e instanceof AnchorageError && e.code === 'NON_FINITE') … }
 */
export class AnchorageError extends Error {
  override readonly name = 'AnchorageError';
  readonly code: AnchorageErrorCode;
  readonly argument: string | undefined;
  readonly value: unknown;

  constructor(
    code: AnchorageErrorCode,
    message: string,
    options: { argument?: string; value?: unknown; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.argument = options.argument;
    this.value = options.value;
  }
}
