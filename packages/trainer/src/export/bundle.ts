// The model bundle has one definition, in @anchorage/model-bundle (the server reads it too).
export {
  BUNDLE_FILES,
  BUNDLE_FORMAT_VERSION,
  type BundleInput,
  type BundleManifest,
  type ModelBundle,
  readBundle,
  validateAnchors,
  validateManifest,
  writeBundle,
} from '@anchorage/model-bundle';
