import { defineCheck } from '../types.js';
import { SCG_URL, vmxBooleanCheck } from './helpers.js';

/** vm-8.isolation-tools-dnd-deactivate: isolation.tools.dnd.disable must be TRUE (its default). */
export const check = defineCheck(
  {
    id: 'vm-8.isolation-tools-dnd-deactivate',
    title: 'VM console drag and drop must be turned off',
    severity: 'low',
    platform: 'vmware',
    resourceType: 'vm',
    rationale:
      'Drag and drop through the console moves files between the client and the guest in either direction.',
    remediation:
      'Remove isolation.tools.dnd.disable from the VM\u2019s advanced parameters or set it to "TRUE" ' +
      '(Get-AdvancedSetting isolation.tools.dnd.disable | Remove-AdvancedSetting).',
    references: {
      stig: ['VMCH-80-000191'],
      vmwareScg: 'vm-8.isolation-tools-dnd-deactivate',
      urls: [SCG_URL],
    },
  },
  (inv) =>
    vmxBooleanCheck(inv, 'isolation.tools.dnd.disable', true, {
      pass: 'drag and drop through the console is off',
      fail: 'files can be dragged between the console and the guest',
    }),
);
