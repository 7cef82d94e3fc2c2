import { AnchorageError } from '@anchorage/loss-core';

/** Stable machine-readable codes of the HTTP API's error bodies. */
export type ApiErrorCode =
  | 'MALFORMED_JSON'
  | 'VALIDATION_FAILED'
  | 'DIMENSION_MISMATCH'
  | 'NON_FINITE'
  | 'LABEL_OUT_OF_RANGE'
  | 'OUT_OF_RANGE'
  | 'NOT_FOUND'
  | 'ROUTE_NOT_FOUND'
  | 'METHOD_NOT_ALLOWED'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'CORRUPT_IMAGE'
  | 'IMAGE_QUERIES_UNAVAILABLE'
  | 'METADATA_TOO_LARGE'
  | 'METADATA_TOO_DEEP'
  | 'DUPLICATE_ID'
  | 'REQUEST_TOO_LARGE'
  | 'RESPONSE_TOO_LARGE'
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'WRITES_DISABLED'
  | 'RATE_LIMITED'
  | 'NOT_READY'
  | 'OVERLOADED'
  | 'INTERNAL';

/** The JSON body of every error response: `{ error: { code, message } }`. */
export interface ErrorBody {
  error: { code: ApiErrorCode; message: string; argument?: string };
}

/**
 * An error meant for the client: an HTTP status, a stable code and a message that is safe to show.
 * @example throw new ApiError(404, 'NOT_FOUND', 'no item with id "a"')
 */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 405 | 413 | 415 | 422 | 429 | 500 | 503,
    readonly code: ApiErrorCode,
    message: string,
    readonly argument?: string,
  ) {
    super(message);
  }

  /** The response body. */
  toBody(): ErrorBody {
    const body: ErrorBody = { error: { code: this.code, message: this.message } };
    if (this.argument !== undefined) body.error.argument = this.argument;
    return body;
  }
}

const ANCHORAGE_STATUS: Record<string, { status: ApiError['status']; code: ApiErrorCode }> = {
  DIMENSION_MISMATCH: { status: 422, code: 'DIMENSION_MISMATCH' },
  NON_FINITE: { status: 422, code: 'NON_FINITE' },
  LABEL_OUT_OF_RANGE: { status: 422, code: 'LABEL_OUT_OF_RANGE' },
  INVALID_ARGUMENT: { status: 422, code: 'VALIDATION_FAILED' },
  NOT_FOUND: { status: 404, code: 'NOT_FOUND' },
};

/**
 * Maps anything thrown inside a handler to a client-safe `ApiError`. Library errors about bad
 * input keep their message; anything else becomes a bare 500 so no internals leak.
 */
export function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof AnchorageError) {
    const mapped = ANCHORAGE_STATUS[error.code];
    if (mapped) return new ApiError(mapped.status, mapped.code, error.message, error.argument);
  }
  return new ApiError(500, 'INTERNAL', 'internal error');
}
