// The server's image queries and the trainer's `embed` command use one embedder.
export { type EmbedderOptions, ImageEmbedder as OnnxEmbedder } from '@anchorage/model-bundle';
