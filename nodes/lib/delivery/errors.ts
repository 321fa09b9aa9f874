/** Stable error codes of `delivery watch` (what a Catch node routes on). */
export const DeliveryErrorCodes = ['WATCH_FULL', 'WATCH_NO_ID', 'WATCH_UNSUPPORTED'] as const;
export type DeliveryErrorCode = (typeof DeliveryErrorCodes)[number];

export class DeliveryError extends Error {
  readonly code: DeliveryErrorCode;
  constructor(code: DeliveryErrorCode, message: string) {
    super(message);
    this.name = 'DeliveryError';
    this.code = code;
  }
}
