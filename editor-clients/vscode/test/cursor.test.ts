import { strict as assert } from "node:assert";
import { test } from "node:test";
import { CURSOR_MOVED, cursorNotifier } from "../src/cursor";

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

test("the cursor is sent once it rests, once per line", async () => {
  const sent: any[] = [];
  const n = cursorNotifier((p) => sent.push(p), 20);
  n.moved({ uri: "file:///a.py", line: 3, character: 1 });
  n.moved({ uri: "file:///a.py", line: 4, character: 2 }); // still moving: only the last place counts
  await wait(40);
  assert.deepEqual(sent, [{ textDocument: { uri: "file:///a.py" }, position: { line: 4, character: 2 } }]);
  n.moved({ uri: "file:///a.py", line: 4, character: 9 }); // same line: the head is already warm
  await wait(40);
  assert.equal(sent.length, 1);
  n.moved({ uri: "file:///b.py", line: 4, character: 0 });
  await wait(40);
  assert.equal(sent.length, 2);
  assert.equal(CURSOR_MOVED, "ragls/cursorMoved");
  n.dispose();
});
