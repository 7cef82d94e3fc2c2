import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

/** ONNX opset the exporter targets (LayerNormalization is native from 17 on). */
export const ONNX_OPSET = 17;
/** ONNX IR version written into every model (8 is what opset 17 requires). */
export const ONNX_IR_VERSION = 8;

/** ONNX tensor element types the exporter writes. */
export type OnnxElementType = 'float32' | 'uint8' | 'int64';

const ELEMENT_TYPE_CODE: Record<OnnxElementType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  uint8: onnx.TensorProto.DataType.UINT8,
  int64: onnx.TensorProto.DataType.INT64,
};

/** A typed ONNX node attribute; build one with {@link onnxAttr}. */
export type OnnxAttribute =
  | { type: 'int'; value: number }
  | { type: 'float'; value: number }
  | { type: 'ints'; value: readonly number[] }
  | { type: 'floats'; value: readonly number[] }
  | { type: 'string'; value: string };

/**
 * Constructors for node attributes: ONNX distinguishes `1` (INT) from `1.0` (FLOAT), so the type is
 * always spelled out.
 * @example graph.node('Softmax', [x], { axis: onnxAttr.int(-1) })
 */
export const onnxAttr = {
  int: (value: number): OnnxAttribute => ({ type: 'int', value }),
  float: (value: number): OnnxAttribute => ({ type: 'float', value }),
  ints: (value: readonly number[]): OnnxAttribute => ({ type: 'ints', value }),
  floats: (value: readonly number[]): OnnxAttribute => ({ type: 'floats', value }),
  string: (value: string): OnnxAttribute => ({ type: 'string', value }),
};

/** One initialiser (a constant tensor) of the graph, row-major. */
export interface OnnxInitializer {
  readonly dims: readonly number[];
  data: Float32Array | BigInt64Array;
}

/** A graph input or output: a name, an element type and dims (a string is a symbolic dimension). */
export interface OnnxValueInfo {
  readonly name: string;
  readonly type: OnnxElementType;
  readonly dims: readonly (number | string)[];
}

interface NodeRecord {
  opType: string;
  inputs: string[];
  outputs: string[];
  name: string;
  attributes: Record<string, OnnxAttribute>;
}

/**
 * Accumulates the nodes, initialisers, inputs and outputs of one ONNX graph and serialises it as a
 * `ModelProto`. Names are made unique here, so converters may pass any readable base name.
 * @example
 * const g = new OnnxGraphBuilder('embedder');
 * g.addInput({ name: 'x', type: 'float32', dims: ['batch', 4] });
 * const y = g.node('Relu', ['x']);
 * g.addOutput({ name: y, type: 'float32', dims: ['batch', 4] });
 * const bytes = g.toBytes();
 */
export class OnnxGraphBuilder {
  readonly #names = new Set<string>();
  readonly #nodes: NodeRecord[] = [];
  readonly #initializers = new Map<string, OnnxInitializer>();
  readonly #inputs: OnnxValueInfo[] = [];
  readonly #outputs: OnnxValueInfo[] = [];

  constructor(readonly graphName: string) {}

  /** A name not yet used in this graph, derived from `base`. */
  uniqueName(base: string): string {
    const clean = base.replace(/[^A-Za-z0-9_./:-]/g, '_') || 'v';
    let name = clean;
    for (let i = 1; this.#names.has(name); i++) name = `${clean}_${i}`;
    this.#names.add(name);
    return name;
  }

  /** Declares a graph input under exactly `info.name`. */
  addInput(info: OnnxValueInfo): string {
    this.#names.add(info.name);
    this.#inputs.push(info);
    return info.name;
  }

  /** Declares a graph output; `info.name` must be a value produced by a node or an input. */
  addOutput(info: OnnxValueInfo): void {
    this.#outputs.push(info);
  }

  /** Adds a float32 initialiser of shape `dims` (row-major) and returns its unique name. */
  addFloat(base: string, data: Float32Array | readonly number[], dims: readonly number[]): string {
    const name = this.uniqueName(base);
    this.#initializers.set(name, { dims: [...dims], data: Float32Array.from(data) });
    return name;
  }

  /** Adds an int64 initialiser (shapes, axes, pads) and returns its unique name. */
  addInt64(base: string, values: readonly number[], dims: readonly number[] = [values.length]): string {
    const name = this.uniqueName(base);
    this.#initializers.set(name, { dims: [...dims], data: BigInt64Array.from(values.map((v) => BigInt(v))) });
    return name;
  }

  /** The initialiser called `name`, or undefined; its `data` may be replaced (constant folding). */
  initializer(name: string): OnnxInitializer | undefined {
    return this.#initializers.get(name);
  }

  /**
   * Appends a node and returns its output names (`outputCount` of them, default 1).
   * An empty string in `inputs` is ONNX's "optional input left out". `outputs` names the outputs
   * exactly (graph outputs); the caller guarantees they are unused.
   */
  addNode(
    opType: string,
    inputs: readonly string[],
    attributes: Record<string, OnnxAttribute> = {},
    options: { name?: string; outputCount?: number; outputs?: readonly string[] } = {},
  ): string[] {
    const name = this.uniqueName(options.name ?? opType);
    const outputs = options.outputs
      ? options.outputs.map((o) => {
          this.#names.add(o);
          return o;
        })
      : Array.from({ length: options.outputCount ?? 1 }, (_, i) =>
          this.uniqueName(i === 0 ? `${name}:out` : `${name}:out${i}`),
        );
    this.#nodes.push({ opType, inputs: [...inputs], outputs, name, attributes });
    return outputs;
  }

  /** {@link addNode} for the common single-output case; returns the output name. */
  node(
    opType: string,
    inputs: readonly string[],
    attributes?: Record<string, OnnxAttribute>,
    name?: string,
  ): string {
    return this.addNode(opType, inputs, attributes, name === undefined ? {} : { name })[0]!;
  }

  /** Serialises the graph as an ONNX `ModelProto` (IR 8, default domain at {@link ONNX_OPSET}). */
  toBytes(options: { producerVersion?: string; docString?: string } = {}): Uint8Array {
    const valueInfo = (v: OnnxValueInfo) => ({
      name: v.name,
      type: {
        tensorType: {
          elemType: ELEMENT_TYPE_CODE[v.type],
          shape: { dim: v.dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) },
        },
      },
    });
    const initializer = [...this.#initializers].map(([name, init]) => ({
      name,
      dims: [...init.dims],
      dataType: init.data instanceof Float32Array ? ELEMENT_TYPE_CODE.float32 : ELEMENT_TYPE_CODE.int64,
      // raw_data is little-endian by the ONNX spec; typed arrays are little-endian on every platform Node runs on
      rawData: new Uint8Array(init.data.buffer, init.data.byteOffset, init.data.byteLength),
    }));
    const model = onnx.ModelProto.create({
      irVersion: ONNX_IR_VERSION,
      producerName: 'anchorage',
      producerVersion: options.producerVersion ?? '',
      docString: options.docString ?? '',
      opsetImport: [{ domain: '', version: ONNX_OPSET }],
      graph: {
        name: this.graphName,
        node: this.#nodes.map((n) => ({
          name: n.name,
          opType: n.opType,
          input: n.inputs,
          output: n.outputs,
          attribute: Object.entries(n.attributes).map(([attrName, a]) => encodeAttribute(attrName, a)),
        })),
        initializer,
        input: this.#inputs.map(valueInfo),
        output: this.#outputs.map(valueInfo),
      },
    });
    return onnx.ModelProto.encode(model).finish();
  }
}

function encodeAttribute(name: string, a: OnnxAttribute): Record<string, unknown> {
  const T = onnx.AttributeProto.AttributeType;
  switch (a.type) {
    case 'int':
      return { name, type: T.INT, i: a.value };
    case 'float':
      return { name, type: T.FLOAT, f: a.value };
    case 'ints':
      return { name, type: T.INTS, ints: [...a.value] };
    case 'floats':
      return { name, type: T.FLOATS, floats: [...a.value] };
    case 'string':
      return { name, type: T.STRING, s: new TextEncoder().encode(a.value) };
  }
}
