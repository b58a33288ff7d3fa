import { check } from './esxi-8.network-reject-mac-changes-standardswitch.js';
import { switchPolicyTests } from '../../../test/helpers/vmware-switch.js';

switchPolicyTests(check, 'macChanges', 'Accept');
