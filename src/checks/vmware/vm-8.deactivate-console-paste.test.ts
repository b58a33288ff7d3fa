import { check } from './vm-8.deactivate-console-paste.js';
import { consoleIsolationTests } from '../../../test/helpers/vmware-console.js';

consoleIsolationTests(check, {
  key: 'isolation.tools.paste.disable',
  hardenedValue: 'True',
  otherSpelling: 'ISOLATION.TOOLS.PASTE.DISABLE',
});
