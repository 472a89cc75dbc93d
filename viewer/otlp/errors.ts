/** Why an OTLP/HTTP body was not decoded, each mapped to the status a receiver answers with. */

/** The body is not a decodable trace export: a server answers 400 Bad Request. */
export class OtlpDecodeError extends Error {
  override readonly name: string = "OtlpDecodeError";
}

/** The Content-Type or Content-Encoding is not one OTLP/HTTP uses: a server answers 415. */
export class OtlpUnsupportedMediaTypeError extends OtlpDecodeError {
  override readonly name = "OtlpUnsupportedMediaTypeError";
}

/** The body exceeds the size limit: a server answers 413 Content Too Large. */
export class OtlpPayloadTooLargeError extends Error {
  override readonly name = "OtlpPayloadTooLargeError";
  constructor(
    readonly limitBytes: number,
    readonly stage: "received" | "decompressed",
  ) {
    super(`OTLP body ${stage === "received" ? "" : "decompressed "}exceeds ${limitBytes} bytes`);
  }
}
