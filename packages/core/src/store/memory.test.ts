import { describeStoreConformance } from '../conformance/index.js';
import { MemoryStore } from './memory.js';

class UnavailableStore extends MemoryStore {
  constructor() {
    super();
    void this.close();
  }
}

// Memory has no durability: "reopen" shares the instance, which is the most a process-local store offers.
describeStoreConformance<MemoryStore>({
  name: 'memory',
  open: async () => new MemoryStore(),
  reopen: async (store) => store,
  openUnavailable: async () => new UnavailableStore(),
  tamperAudit: async (store, appId, seq, change) => store.tamperAuditEntry(appId, seq, change),
  deleteAudit: async (store, appId, seq) => store.deleteAuditEntry(appId, seq),
});
