declare module 'node-red-node-test-helper' {
  interface TestNode {
    id: string;
    on(event: string, handler: (...args: any[]) => void): void;
    receive(msg: Record<string, unknown>): void;
    [key: string]: any;
  }
  interface NodeTestHelper {
    init(runtimePath?: string, userSettings?: Record<string, unknown>): void;
    settings(userSettings?: Record<string, unknown>): Record<string, unknown>;
    load(nodes: unknown, flow: unknown[], credentials?: Record<string, unknown>): Promise<void>;
    unload(): Promise<void>;
    startServer(): Promise<void>;
    stopServer(): Promise<void>;
    getNode(id: string): TestNode;
    clearFlows(): Promise<void>;
    setFlows(flow: unknown[], type?: string, credentials?: Record<string, unknown>): Promise<void>;
    request(): any;
    url(): string;
    log(): any;
    _logSpy: any;
  }
  const helper: NodeTestHelper;
  export default helper;
}
