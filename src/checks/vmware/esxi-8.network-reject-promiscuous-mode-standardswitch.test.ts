import { check } from './esxi-8.network-reject-promiscuous-mode-standardswitch.js';
import { switchPolicyTests } from '../../../test/helpers/vmware-switch.js';

switchPolicyTests(check, 'allowPromiscuous', 'Reject');
