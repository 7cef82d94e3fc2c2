export { crc32 } from './crc32.js';
export {
  decodeIndexFile,
  encodeIndexFile,
  INDEX_FILE_MAGIC,
  INDEX_FILE_VERSION,
  type IndexFileContents,
  readIndexFile,
  writeIndexFile,
} from './index-file.js';
