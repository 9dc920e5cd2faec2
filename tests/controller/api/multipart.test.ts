import { expect, test } from "bun:test";
import { readMultipart } from "../../../controller/src/api/multipart.ts";

test("a body that ends inside a file part is a 400 for the request, never an uncaught error in the process", async () => {
  const uncaught: unknown[] = [];
  const record = (e: unknown) => uncaught.push(e);
  process.on("uncaughtException", record);
  try {
    for (const consume of [true, false]) {
      const request = new Request("http://x/upload", {
        method: "POST",
        headers: { "content-type": "multipart/form-data; boundary=b" },
        body: '--b\r\nContent-Disposition: form-data; name="file"; filename="x"\r\n\r\nunfinished',
      });
      const reading = readMultipart(request, async (part) => {
        if (!consume) throw new Error("refused before reading");
        for await (const _ of part.stream) {
          // read it all
        }
        return 1;
      });
      await expect(reading).rejects.toThrow(consume ? /multipart body cannot be read: Unexpected end of form/ : /refused before reading|multipart body cannot be read/);
    }
    await Bun.sleep(50);
    expect(uncaught).toEqual([]);
  } finally {
    process.off("uncaughtException", record);
  }
});
