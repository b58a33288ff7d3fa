import { check } from './vm-8.isolation-tools-dnd-deactivate.js';
import { consoleIsolationTests } from '../../../test/helpers/vmware-console.js';

consoleIsolationTests(check, {
  key: 'isolation.tools.dnd.disable',
  hardenedValue: 'true',
  otherSpelling: 'Isolation.Tools.DnD.Disable',
});
