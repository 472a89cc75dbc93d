/** Splits a text stream into lines (without their `\n` or `\r\n`). */
export class TextLineStream extends TransformStream<string, string> {
  constructor() {
    let pending = "";
    super({
      transform(chunk, controller) {
        const parts = (pending + chunk).split("\n");
        pending = parts.pop() ?? "";
        for (const part of parts) controller.enqueue(part.replace(/\r$/, ""));
      },
      flush(controller) {
        if (pending !== "") controller.enqueue(pending);
      },
    });
  }
}
