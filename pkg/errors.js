// The one error type the package throws: the Verifier's constructor and setters (from
// wasm), buildRevocationFilter, and IssuerSync all raise an EdgetokenError with a stable
// `code` (see errorCodes("thrown")). Switch on `code`, never on the message.
//
// Errors raised inside wasm are plain Errors named "EdgetokenError" with a `code`, created
// by the wasm glue; `instanceof EdgetokenError` recognises those too (by name and code, not
// by prototype, which also makes it work across realms such as Next's edge sandbox).

const isError = (value) => Object.prototype.toString.call(value) === "[object Error]";

export class EdgetokenError extends Error {
  /**
   * @param {string} code a stable code (errorCodes())
   * @param {string} message what happened, for humans
   * @param {{ cause?: unknown }} [options]
   */
  constructor(code, message, options) {
    super(message.startsWith("edgetoken: ") ? message : `edgetoken: ${message}`, options);
    this.name = "EdgetokenError";
    this.code = code;
  }

  static [Symbol.hasInstance](value) {
    return isError(value) && value.name === "EdgetokenError" && typeof value.code === "string";
  }
}
