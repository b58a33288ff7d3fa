/** Proxmox VE: cluster configuration and qemu-server VMs. Types only. */

export interface ProxmoxHost {
  /** Where the cluster configuration was read from (`/etc/pve`). */
  root: string;
}

export interface ProxmoxVm {
  vmid: string;
  file: string;
}
