// The Download and Load buttons of a demo mode: the 2-D page (main.ts) and the digits mode
// (digits-mode.ts) wire theirs through this one function.
//
// Download: the first click makes the checkpoint's Blob (an async readback) and clicks the link
// again, which the browser then downloads; the URL is revoked a second later, so the next click
// makes a fresh one (the model keeps training). Load: training pauses, the file's bytes go to the
// mode's loader (which reports its own problems by throwing), and training resumes if it was on.

export interface CheckpointButtons {
  download: HTMLAnchorElement;
  loadButton: HTMLElement;
  fileInput: HTMLInputElement;
}

export interface CheckpointActions {
  /** The checkpoint's bytes, serialised with the mode's other GPU work. */
  bytes(): Promise<Uint8Array>;
  /** The downloaded file's name. */
  fileName(): string;
  /** Loads a file's bytes into the mode (serialised with its other work); throws what is wrong. */
  load(bytes: Uint8Array, name: string): Promise<unknown>;
  isRunning(): boolean;
  pause(): Promise<void>;
  start(): void;
  log(msg: string, error?: boolean): void;
}

/** Wires the buttons; revoke() drops a pending download URL (a new model replaced the one it holds). */
export function wireCheckpointButtons({ download, loadButton, fileInput }: CheckpointButtons, a: CheckpointActions): { revoke(): void } {
  let url: string | null = null;
  const revoke = () => {
    if (url) URL.revokeObjectURL(url);
    url = null;
    download.href = '#';
  };
  download.addEventListener('click', async (ev) => {
    if (url) return;
    ev.preventDefault();
    try {
      const bytes = await a.bytes();
      url = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' }));
      download.href = url;
      download.download = a.fileName();
      download.click();
    } catch (e) {
      a.log(`download failed: ${(e as Error).message}`, true);
    } finally {
      setTimeout(revoke, 1000);
    }
  });
  loadButton.addEventListener('click', () => fileInput.click());
  fileInput.addEventListener('change', async () => {
    const file = fileInput.files?.[0];
    if (!file) return;
    fileInput.value = '';
    const wasRunning = a.isRunning();
    await a.pause();
    try {
      await a.load(new Uint8Array(await file.arrayBuffer()), file.name);
      if (wasRunning) a.start();
    } catch (e) {
      document.documentElement.dataset.ebmLoadError = (e as Error).message;
      a.log(`could not load ${file.name}: ${(e as Error).message}`, true);
    }
  });
  return { revoke };
}
