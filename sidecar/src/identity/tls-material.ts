// The sidecar's current identity as TLS material, and how listeners and pools learn it changed.

export interface TlsMaterial {
  // PKCS#8 PEM of the workload key; never leaves the process.
  keyPem: string;
  // Leaf first, then intermediates.
  certChainPem: string;
  // Roots that peers' chains must lead to (two while a root rotates).
  trustBundlePem: string[];
  spiffeId: string;
  notAfter: Date;
}

export interface TlsMaterialSource {
  current(): TlsMaterial;
  // Called after every rotation or trust bundle change; returns an unsubscribe function.
  onChange(listener: (material: TlsMaterial) => void): () => void;
}

// A source whose material is set from outside: the identity client, or a test.
export class MutableTlsMaterialSource implements TlsMaterialSource {
  private readonly listeners = new Set<(material: TlsMaterial) => void>();

  constructor(private material: TlsMaterial) {}

  current(): TlsMaterial {
    return this.material;
  }

  update(material: TlsMaterial): void {
    this.material = material;
    for (const listener of this.listeners) listener(material);
  }

  onChange(listener: (material: TlsMaterial) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
