/**
 * The HTTP settings as every request uses them, normalised once when tracing is created: header
 * names lower-cased, the capture lists resolved to their attribute names (credential headers left
 * out), the sensitive query parameters as one set. Nothing on the request path normalises again.
 */
import type { HttpSettings } from "../config/settings.ts";
import { type HeaderCapture, requestHeaderCaptures, responseHeaderCaptures } from "./attributes.ts";
import { type SensitiveQueryParams, sensitiveQueryParams } from "./redact.ts";

/** The settings as they come, but for the lists each request would otherwise normalise again. */
export interface HttpPolicy extends
  Omit<
    HttpSettings,
    "captureRequestHeaders" | "captureResponseHeaders" | "sensitiveQueryParams"
  > {
  /** Lower case. */
  readonly requestIdHeader: string;
  readonly requestCaptures: readonly HeaderCapture[];
  readonly responseCaptures: readonly HeaderCapture[];
  readonly sensitiveQueryParams: SensitiveQueryParams;
}

export function httpPolicy(settings: HttpSettings): HttpPolicy {
  return {
    requestIdHeader: settings.requestIdHeader.trim().toLowerCase(),
    baggageAttributes: settings.baggageAttributes,
    requestCaptures: requestHeaderCaptures(settings.captureRequestHeaders),
    responseCaptures: responseHeaderCaptures(settings.captureResponseHeaders),
    sensitiveQueryParams: sensitiveQueryParams(settings.sensitiveQueryParams),
    trustForwardedHeaders: settings.trustForwardedHeaders,
    serverTiming: settings.serverTiming,
    traceResponse: settings.traceResponse,
    debug: settings.debug,
    accessLog: settings.accessLog,
  };
}
