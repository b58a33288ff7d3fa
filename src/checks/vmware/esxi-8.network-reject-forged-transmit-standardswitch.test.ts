import { check } from './esxi-8.network-reject-forged-transmit-standardswitch.js';
import { switchPolicyTests } from '../../../test/helpers/vmware-switch.js';

switchPolicyTests(check, 'forgedTransmits', 'Accept');
