/**
 * The three standard-switch security policy checks share one judgement: the switch's own policy (its SCG
 * installation default when the field is unset) and every port group that overrides it must reject.
 */
import type { Evidence } from '../../model/finding.js';
import type { HostInventory } from '../../model/host.js';
import type { SecurityPolicy } from '../../model/vmware.js';
import { SWITCH_POLICY_DEFAULTS } from '../../platform/vmware/defaults.js';
import type { CheckOutcome } from '../types.js';
import { hostResource, switchResource } from './helpers.js';

export type PolicyField = keyof SecurityPolicy & keyof typeof SWITCH_POLICY_DEFAULTS;

const LABEL: Record<PolicyField, string> = {
  forgedTransmits: 'forged transmits',
  macChanges: 'MAC address changes',
  allowPromiscuous: 'promiscuous mode',
};

const word = (accept: boolean): string => (accept ? 'Accept' : 'Reject');

/** One outcome per standard switch; `unknown` per host whose switches were not read. */
export function switchPolicyCheck(inv: HostInventory, field: PolicyField): CheckOutcome[] {
  const label = LABEL[field];
  const def = SWITCH_POLICY_DEFAULTS[field];
  const out: CheckOutcome[] = [];
  for (const host of inv.esxi) {
    if (host.standardSwitches === undefined) {
      out.push({
        status: 'unknown',
        resource: hostResource(host),
        message: `standard switch security policy is not known from ${host.source} (an advanced-settings export does not carry it)`,
      });
      continue;
    }
    for (const sw of host.standardSwitches) {
      const own = sw.policy[field];
      const switchAccepts = own ?? def.value === 'Accept';
      const switchEvidence: Evidence =
        own === undefined
          ? { file: host.source, key: `${sw.name}.${field}`, value: def.value ?? '', isDefault: true }
          : { file: host.source, key: `${sw.name}.${field}`, value: word(own) };
      const offenders: Array<{ what: string; evidence: Evidence }> = [];
      if (switchAccepts) {
        offenders.push({
          what: `the switch (${word(true)}${own === undefined ? ', its default' : ''})`,
          evidence: switchEvidence,
        });
      }
      for (const pg of sw.portGroups) {
        if (pg.policy[field] === true) {
          offenders.push({
            what: `port group ${JSON.stringify(pg.name)} (overrides to Accept)`,
            evidence: { file: host.source, key: `${sw.name}/${pg.name}.${field}`, value: 'Accept' },
          });
        }
      }
      const first = offenders[0];
      out.push(
        first
          ? {
              status: 'fail',
              resource: switchResource(host, sw),
              message: `${label} accepted by ${offenders.map((o) => o.what).join(', ')}`,
              evidence: first.evidence,
            }
          : {
              status: 'pass',
              resource: switchResource(host, sw),
              message: `${label} rejected by the switch${own === undefined ? ' (its default)' : ''} and no port group overrides it to Accept`,
              evidence: switchEvidence,
            },
      );
    }
  }
  return out;
}
