export {
  chromiumPath,
  fashionMnistDir,
  fixture,
  MissingFixtureError,
  mnistDir,
  numpyPython,
} from './fixtures';
export { referenceLoss } from './reference';
