// The model bundle has one definition, in @anchorage/model-bundle (the trainer writes it with the
// same schema); the names below are the server's.
export {
  type BundleManifest as Manifest,
  type LoadedBundle as ModelBundle,
  loadBundle,
  manifestSchema,
} from '@anchorage/model-bundle';
