import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createApp } from '@anchorage/server';
import { docsSrc, generatedNote } from './paths.js';

interface Schema {
  $ref?: string;
  type?: string;
  format?: string;
  description?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  allOf?: Schema[];
  oneOf?: Schema[];
  anyOf?: Schema[];
  enum?: unknown[];
  nullable?: boolean;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  default?: unknown;
  example?: unknown;
  additionalProperties?: boolean | Schema;
}

interface Parameter {
  name: string;
  in: string;
  required?: boolean;
  description?: string;
  schema?: Schema;
}

interface Operation {
  summary?: string;
  description?: string;
  parameters?: Parameter[];
  requestBody?: { content: Record<string, { schema: Schema }> };
  responses: Record<string, { description: string; content?: Record<string, { schema: Schema }> }>;
  security?: unknown[];
}

interface Document {
  info: { title: string; version: string; description?: string };
  paths: Record<string, Record<string, Operation>>;
  components?: { schemas?: Record<string, Schema> };
}

/**
 * The server's own OpenAPI document, from the app built in process. `/openapi.json` describes
 * the routes, not the data, so a two-class bundle and a catalog that is never called suffice.
 */
async function openApiDocument(): Promise<Document> {
  const anchors = new Float32Array([3, 0, 0, 3]);
  const bundle = {
    dir: '',
    manifest: { formatVersion: 1 as const, dim: 2, classes: ['a', 'b'] },
    dim: 2,
    classes: ['a', 'b'],
    anchors,
    modelPath: undefined,
  };
  const app = createApp({ bundle, catalog: {} as never });
  const response = await app.request('/openapi.json');
  if (!response.ok) throw new Error(`/openapi.json answered ${response.status}`);
  return (await response.json()) as Document;
}

function refName(ref: string): string {
  return ref.split('/').pop()!;
}

function range(min: number | undefined, max: number | undefined, unit = ''): string | undefined {
  if (min !== undefined && max !== undefined) return `${min}..${max}${unit}`;
  if (min !== undefined) return `≥ ${min}${unit}`;
  if (max !== undefined) return `≤ ${max}${unit}`;
  return undefined;
}

function constraints(schema: Schema): string[] {
  const out = [
    schema.format,
    range(schema.minimum, schema.maximum),
    range(schema.minLength, schema.maxLength, ' characters'),
    range(schema.minItems, schema.maxItems, ' items'),
    schema.default === undefined ? undefined : `default ${JSON.stringify(schema.default)}`,
  ];
  return out.filter((s): s is string => s !== undefined);
}

/** A schema as a TypeScript type, with descriptions and limits as comments. */
function typeOf(schema: Schema, indent: string): string {
  if (schema.$ref) return refName(schema.$ref);
  let type: string;
  if (schema.allOf) type = schema.allOf.map((s) => typeOf(s, indent)).join(' & ');
  else if (schema.oneOf || schema.anyOf)
    type = (schema.oneOf ?? schema.anyOf)!.map((s) => typeOf(s, indent)).join(' | ');
  else if (schema.enum) type = schema.enum.map((v) => JSON.stringify(v)).join(' | ');
  else if (schema.type === 'array') {
    const item = typeOf(schema.items ?? {}, indent);
    type = /[ |&]/.test(item) && !item.startsWith('{') ? `(${item})[]` : `${item}[]`;
  } else if (schema.type === 'object' || schema.properties) {
    const required = new Set(schema.required ?? []);
    const inner = `${indent}  `;
    const lines = Object.entries(schema.properties ?? {}).map(([key, value]) => {
      const notes = [value.description?.replace(/\.$/, ''), ...constraints(value)].filter(Boolean).join('; ');
      const comment = notes && !value.$ref ? ` // ${notes.replace(/\s+/g, ' ')}` : '';
      const name = /^[A-Za-z_$][\w$]*$/.test(key) ? key : JSON.stringify(key);
      return `${inner}${name}${required.has(key) ? '' : '?'}: ${typeOf(value, inner)};${comment}`;
    });
    if (schema.additionalProperties && typeof schema.additionalProperties === 'object')
      lines.push(`${inner}[key: string]: ${typeOf(schema.additionalProperties, inner)};`);
    type = lines.length === 0 ? 'object' : `{\n${lines.join('\n')}\n${indent}}`;
  } else if (schema.type === 'integer') type = 'number';
  else if (schema.type === 'string' && schema.format === 'binary') type = 'Blob';
  else type = schema.type ?? 'unknown';
  return schema.nullable ? `${type} | null` : type;
}

function codeBlock(text: string): string {
  return `\`\`\`ts\n${text}\n\`\`\``;
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n+/g, ' ');
}

function anchorOf(method: string, path: string): string {
  return `${method}-${path}`
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
}

function operationSection(
  method: string,
  path: string,
  op: Operation,
  schemas: Record<string, Schema>,
): string {
  const parts = [`### ${method.toUpperCase()} \`${path}\` {#${anchorOf(method, path)}}`];
  if (op.summary) parts.push(op.summary);
  if (op.description) parts.push(op.description);
  const params = op.parameters ?? [];
  if (params.length > 0) {
    parts.push(
      [
        '| parameter | in | type | required | meaning |',
        '| --- | --- | --- | --- | --- |',
        ...params.map(
          (p) =>
            `| \`${p.name}\` | ${p.in} | ${cell([typeOf(p.schema ?? {}, ''), ...constraints(p.schema ?? {})].join(', '))} | ${p.required ? 'yes' : 'no'} | ${cell(p.description ?? '')} |`,
        ),
      ].join('\n'),
    );
  }
  for (const [type, body] of Object.entries(op.requestBody?.content ?? {})) {
    const ref = body.schema.$ref;
    const text = ref
      ? `type ${refName(ref)} = ${typeOf(schemas[refName(ref)] ?? {}, '')};`
      : typeOf(body.schema, '');
    parts.push(`Request body, \`${type}\`:`, codeBlock(text));
  }
  const responses = Object.entries(op.responses).map(([status, r]) => {
    const bodies = Object.entries(r.content ?? {}).map(([type, c]) => {
      const name = c.schema.$ref ? refName(c.schema.$ref) : undefined;
      const shown = name ? `[\`${name}\`](#${name.toLowerCase()})` : `\`${typeOf(c.schema, '')}\``;
      return `${shown} (${type})`;
    });
    return `| ${status} | ${cell(r.description)} | ${cell(bodies.join(', ').replace(/\s+/g, ' '))} |`;
  });
  parts.push(['| status | meaning | body |', '| --- | --- | --- |', ...responses].join('\n'));
  return parts.join('\n\n');
}

export async function generateHttpReference(): Promise<string> {
  const doc = await openApiDocument();
  const operations: string[] = [];
  const index: string[] = [];
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      index.push(
        `| [\`${method.toUpperCase()} ${path}\`](#${anchorOf(method, path)}) | ${cell(op.summary ?? '')} |`,
      );
      operations.push(operationSection(method, path, op, doc.components?.schemas ?? {}));
    }
  }
  const schemas = Object.entries(doc.components?.schemas ?? {}).map(
    ([name, schema]) => `### ${name}\n\n${codeBlock(`type ${name} = ${typeOf(schema, '')};`)}`,
  );
  const page = [
    generatedNote('scripts/http-reference.ts', "the server's OpenAPI document (createApp → /openapi.json)"),
    '# HTTP API',
    `${doc.info.description ?? ''} A running server serves this document at \`/openapi.json\` and a browsable ` +
      'version at `/docs`; the copy on this page is [openapi.json](/openapi.json). Types are written as ' +
      'TypeScript; the [query from code](../guides/query-from-code.md) guide uses them.',
    'Writes need `Authorization: Bearer <key>`; reads are open unless the server runs with `--read-auth`.',
    '## Routes',
    ['| route | what it does |', '| --- | --- |', ...index].join('\n'),
    ...operations,
    '## Schemas',
    ...schemas,
  ].join('\n\n');
  const path = join(docsSrc, 'reference/http-api.md');
  writeFileSync(path, `${page}\n`);
  mkdirSync(join(docsSrc, 'public'), { recursive: true });
  writeFileSync(join(docsSrc, 'public/openapi.json'), `${JSON.stringify(doc, null, 2)}\n`);
  return path;
}
