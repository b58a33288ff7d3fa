/**
 * Raw command lines in VM configurations (Proxmox `args:`, libvirt `<qemu:commandline>`) often carry secrets:
 * `-object secret,id=s0,data=…`, `password=…`, VNC or iSCSI credentials. Reports show such settings as evidence,
 * so their values are masked before they reach a finding.
 */
const SECRET_KEY =
  /(^|[\s,;:"'])((?:[\w.-]*?)(?:pass(?:word|wd|phrase)?|secret|token|key|data|auth|cred(?:ential)?s?|pwd)[\w.-]*)=("[^"]*"|'[^']*'|[^,\s;]*)/gi;

export const REDACTED = '<redacted>';

/** Masks the value of every `name=value` whose name looks like it holds a secret, and URL passwords. */
export function redactSecrets(text: string): string {
  return text
    .replace(SECRET_KEY, (_m, lead: string, key: string) => `${lead}${key}=${REDACTED}`)
    .replace(/(\w+:\/\/[^\s/:@]*):[^\s/@]*@/g, `$1:${REDACTED}@`);
}

/** An environment assignment `NAME=value` keeps its name only: environment values are too often secrets. */
export function redactEnv(assignment: string): string {
  const eq = assignment.indexOf('=');
  return eq < 0 ? assignment : `${assignment.slice(0, eq)}=${REDACTED}`;
}
