/** VMware ESXi hosts and .vmx VM configurations. Types only. */
import type { ConfigEntry } from './host.js';

/** A `.vmx` file: keys are case-insensitive, so `entries` is keyed by the lowercased key. */
export interface VmxConfig {
  file: string;
  /** `displayName`, when set. */
  name?: string;
  entries: Record<string, ConfigEntry>;
}

export interface EsxiService {
  /** Service key as vSphere names it: `TSM-SSH`, `TSM`, `ntpd`, `sfcbd-watchdog`... */
  key: string;
  label?: string;
  running: boolean;
  /** Start-up policy: `on`, `off`, `automatic`. */
  policy: string;
}

/** Security policy of a standard switch or a port group override; undefined = not set (inherit/default). */
export interface SecurityPolicy {
  allowPromiscuous?: boolean;
  macChanges?: boolean;
  forgedTransmits?: boolean;
}

export interface PortGroup {
  name: string;
  vlanId?: number;
  /** Only the fields the port group overrides. */
  policy: SecurityPolicy;
}

export interface StandardSwitch {
  name: string;
  policy: SecurityPolicy;
  portGroups: PortGroup[];
}

/** One ESXi host as read from the vSphere API or from exports (esxcli, PowerCLI). */
export interface EsxiHost {
  name: string;
  /** `vsphere://vc.example.org`, an export file path... */
  source: string;
  version?: string;
  build?: string;
  /** Advanced settings by lowercased key (`UserVars.ESXiShellInteractiveTimeOut` -> `uservars.esxishellinteractivetimeout`). */
  advanced: Record<string, ConfigEntry>;
  /**
   * True when `advanced` holds every setting whose value differs from its default (the vSphere API's full
   * OptionManager list, or `esxcli system settings advanced list --delta`), so an absent key has its documented
   * default. Unset or false: an absent key is not known from this source and checks report `unknown`.
   */
  advancedComplete?: boolean;
  services?: EsxiService[];
  /** `lockdownDisabled`, `lockdownNormal`, `lockdownStrict`; undefined = not known from this source. */
  lockdownMode?: string;
  /** undefined = not known from this source (e.g. an advanced-settings export). */
  standardSwitches?: StandardSwitch[];
}
