/**
 * Where the cursor came to rest, for the server's `ragls/cursorMoved` notification: it reads
 * the prompt for that place into the model's cache before the user types there. Debounced,
 * and sent once per line (the server's prompt head is the same along a line).
 */
export interface CursorPlace {
  uri: string;
  line: number;
  character: number;
}

export const CURSOR_MOVED = "ragls/cursorMoved";

export function cursorNotifier(send: (params: object) => void, delayMs = 150) {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let lastKey = "";
  return {
    moved(place: CursorPlace): void {
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => {
        timer = undefined;
        const key = `${place.uri}:${place.line}`;
        if (key === lastKey) return;
        lastKey = key;
        send({ textDocument: { uri: place.uri }, position: { line: place.line, character: place.character } });
      }, delayMs);
    },
    dispose(): void {
      if (timer) clearTimeout(timer);
    },
  };
}
