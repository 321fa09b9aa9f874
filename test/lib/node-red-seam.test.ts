import assert from 'assert';
import { nameConfigNode } from '../../nodes/lib/node-red';

describe('lib/node-red nameConfigNode', function () {
  it('names an unnamed config node by its type and host, never with user:pass@ or a path', () => {
    const node: { name?: string; type: string } = { type: 'privmx-bridge' };
    nameConfigNode(node, 'https://key:s3cret@bridge.example.com:9111/api?token=x');
    assert.equal(node.name, 'privmx-bridge bridge.example.com:9111');
  });

  it('keeps a name the user gave; an invalid URL leaves the type', () => {
    const named = { name: 'On-call Bridge', type: 'privmx-bridge' };
    nameConfigNode(named, 'http://localhost:9111');
    assert.equal(named.name, 'On-call Bridge');
    const bad: { name?: string; type: string } = { type: 'sms-gateway' };
    nameConfigNode(bad, 'localhost:9111localhost:9111');
    assert.equal(bad.name, 'sms-gateway');
  });
});
