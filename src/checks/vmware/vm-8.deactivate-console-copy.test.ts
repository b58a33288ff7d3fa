import { check } from './vm-8.deactivate-console-copy.js';
import { consoleIsolationTests } from '../../../test/helpers/vmware-console.js';

consoleIsolationTests(check, {
  key: 'isolation.tools.copy.disable',
  hardenedValue: 'true',
  otherSpelling: 'ISOLATION.TOOLS.COPY.DISABLE',
});
