// A worker thread of `audit verify`: checks the pages of records it is sent (checkRecords) and
// answers each with the leaf hashes, transferred, not copied.
import { parentPort, workerData } from 'node:worker_threads';
import type { RecordPage } from './AuditStore.js';
import type { CopiedPage } from './copiedRecords.js';
import { checkRecords } from './checkRecords.js';

export interface CheckRequest {
  id: number;
  page: RecordPage | CopiedPage;
  logId: string;
  firstIndex: number;
}

const checked: Int32Array | undefined = (workerData as { checked?: Int32Array } | null)?.checked;

parentPort!.on('message', (m: CheckRequest) => {
  // Each page is counted done once, before its reply, which may wait in the main thread's event
  // loop (RecordCheckers.saturated).
  let counted = false;
  const done = () => {
    if (checked && !counted) Atomics.add(checked, 0, 1);
    counted = true;
  };
  try {
    const result = checkRecords(m.page, m.logId, m.firstIndex);
    done();
    // checkRecords made the buffer for this page alone: it moves to the main thread, no copy; so
    // does a copied page's buffer, for the main thread to read a later page into.
    const copy = 'copy' in m.page ? m.page.copy : undefined;
    parentPort!.postMessage(
      { id: m.id, passed: result.passed, problem: result.problem, hashes: result.hashes, root: result.root, copy },
      copy ? [result.hashes.buffer as ArrayBuffer, copy.buffer as ArrayBuffer] : [result.hashes.buffer as ArrayBuffer],
    );
  } catch (err) {
    done();
    parentPort!.postMessage({ id: m.id, error: err instanceof Error ? err.message : String(err) });
  }
});

parentPort!.postMessage({ ready: true });
