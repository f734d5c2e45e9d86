// The one place that binds the harness to an edition of ETSI GS QKD 014. A second edition
// (reported /kdapi/v2/ draft) would be added here with its own spec and generated directory.
export interface ApiVersion {
  /** Edition as printed on the standard. */
  edition: string;
  /** OpenAPI document, relative to the repository root. */
  spec: string;
  /** Output directory under generated/. */
  generatedDir: string;
  /** Path prefix of every method; an SAE ID follows. */
  basePath: string;
}

export const API_VERSIONS = {
  'v1.1.1': { edition: 'V1.1.1 (2019-02)', spec: 'specs/etsi-qkd-014.yaml', generatedDir: 'etsi014-v1', basePath: '/api/v1/keys' },
} as const satisfies Record<string, ApiVersion>;

export const CURRENT = API_VERSIONS['v1.1.1'];
