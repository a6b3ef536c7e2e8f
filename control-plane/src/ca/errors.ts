// Errors of CA setup (init and load): operator mistakes reported with what to do about them.
export class CaSetupError extends Error {
  readonly code = 'MESH_ERR_CA_SETUP';

  constructor(message: string) {
    super(message);
    this.name = 'CaSetupError';
  }
}
