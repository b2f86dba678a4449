// The few Node APIs this folder uses, declared here because no npm registry (so no
// @types/node) is reachable. Only what node.ts, tools/ and examples/ call; signatures are
// narrowed to those uses.

declare module "node:fs" {
  export const constants: { O_RDONLY: number; O_NOFOLLOW: number };
  export function readFileSync(path: string | number): Uint8Array;
  export function readFileSync(path: string | number, encoding: "utf8"): string;
}

declare module "node:fs/promises" {
  export interface Stats {
    dev: number;
    ino: number;
    size: number;
    mtimeMs: number;
    isFile(): boolean;
  }
  export interface FileHandle {
    stat(): Promise<Stats>;
    read(buffer: Uint8Array, offset: number, length: number, position: number | null): Promise<{ bytesRead: number }>;
    close(): Promise<void>;
  }
  export function open(path: string, flags: number): Promise<FileHandle>;
  export function stat(path: string): Promise<Stats>;
}

declare module "node:http" {
  export interface IncomingMessage {
    method?: string;
    url?: string;
    headers: Record<string, string | string[] | undefined>;
    rawHeaders: string[];
  }
  export interface ServerResponse {
    statusCode: number;
    setHeader(name: string, value: string): this;
    end(body?: string): this;
  }
  export interface Server {
    listen(port: number, host: string, callback: () => void): this;
    address(): { port: number } | string | null;
    close(callback?: (error?: Error) => void): this;
    closeAllConnections(): void;
  }
  export function createServer(handler: (req: IncomingMessage, res: ServerResponse) => void): Server;
}

declare module "node:readline" {
  export interface Interface extends AsyncIterable<string> {
    close(): void;
  }
  export function createInterface(options: { input: unknown; crlfDelay: number }): Interface;
}

declare const process: {
  argv: string[];
  env: Record<string, string | undefined>;
  exitCode: number | undefined;
  stdin: unknown;
  stdout: { write(text: string): boolean };
  stderr: { write(text: string): boolean };
  hrtime: { bigint(): bigint };
  exit(code?: number): never;
  on(signal: "SIGTERM" | "SIGINT", listener: () => void): void;
};
