import assert from 'node:assert/strict';
import { sentFromMessage, statusFromMessage } from '../../nodes/lib/delivery/status';
import { cpaasEnvelope } from '../../nodes/lib/cpaas/envelope';
import { esmsEnvelope } from '../../nodes/lib/esms/envelope';
import { gatewayEnvelope } from '../../nodes/lib/sms-gateway/envelope';

const gw = (fields: Record<string, unknown>) =>
  gatewayEnvelope(
    { type: 'sms_status', messageId: 'msg_1', ...fields },
    'sms_status',
    5,
  ) as unknown as Record<string, unknown>;
const dlr = (info: Record<string, unknown>) =>
  cpaasEnvelope(
    'deliveryInfoNotification',
    { deliveryInfoNotification: { deliveryInfo: info, id: 'n1' } },
    5,
  ) as unknown as Record<string, unknown>;

describe('delivery statuses from the sources envelopes', () => {
  it('gateway sms_status: sent = delivered, failed = failed with its error; queued/sending not final', () => {
    assert.deepEqual(statusFromMessage(gw({ status: 'sent', rcMessageId: '1' })), {
      provider: 'sms-gateway',
      id: 'msg_1',
      providerStatus: 'sent',
      outcome: 'delivered',
    });
    assert.deepEqual(statusFromMessage(gw({ status: 'failed', error: 'Phone number unreachable' })), {
      provider: 'sms-gateway',
      id: 'msg_1',
      providerStatus: 'failed',
      outcome: 'failed',
      reason: 'Phone number unreachable',
    });
    for (const s of ['queued', 'sending'])
      assert.deepEqual(statusFromMessage(gw({ status: s })), {
        provider: 'sms-gateway',
        id: 'msg_1',
        providerStatus: s,
      });
    assert.equal(statusFromMessage(gw({})), undefined, 'no status: not a status event');
  });

  it('CPaaS deliveryInfoNotification: msg.event.id is deliveryInfo.messageId; Terminal/Impossible final, Network not', () => {
    assert.deepEqual(
      statusFromMessage(
        dlr({ address: '+16131234567', deliveryStatus: 'DeliveredToTerminal', messageId: 'SM1' }),
      ),
      {
        provider: 'cpaas',
        id: 'SM1',
        to: '+16131234567',
        providerStatus: 'DeliveredToTerminal',
        outcome: 'delivered',
      },
    );
    assert.deepEqual(statusFromMessage(dlr({ deliveryStatus: 'DeliveryImpossible', messageId: 'SM1' })), {
      provider: 'cpaas',
      id: 'SM1',
      providerStatus: 'DeliveryImpossible',
      outcome: 'failed',
      reason: 'DeliveryImpossible',
    });
    assert.equal(
      statusFromMessage(
        dlr({ deliveryStatus: 'DeliveryImpossible', messageId: 'SM1', description: 'absent subscriber' }),
      )?.reason,
      'absent subscriber',
    );
    assert.equal(
      statusFromMessage(dlr({ deliveryStatus: 'DeliveredToNetwork', messageId: 'SM1' }))?.outcome,
      undefined,
    );
    assert.equal(statusFromMessage(dlr({ deliveryStatus: 'DeliveredToTerminal' }))?.id, undefined);
  });

  it('eSMS message_status: delivered / failed kinds; others not final', () => {
    const e = (status: string, extra: Record<string, unknown> = {}) =>
      statusFromMessage(
        esmsEnvelope(
          { type: 'message_status', message_id: 'msg-9', status, ...extra },
          5,
        ) as unknown as Record<string, unknown>,
      );
    assert.equal(e('delivered')?.outcome, 'delivered');
    assert.deepEqual(e('undelivered', { dlr_status: 'UNDELIV' }), {
      provider: 'esms',
      id: 'msg-9',
      providerStatus: 'undelivered',
      outcome: 'failed',
      reason: 'UNDELIV',
    });
    assert.equal(e('submitted')?.outcome, undefined);
  });

  it('other events are not statuses', () => {
    const inbound = gatewayEnvelope({ type: 'sms_inbound', messageId: 'x', from: '+1' }, 'sms_inbound', 5);
    assert.equal(statusFromMessage(inbound as unknown as Record<string, unknown>), undefined);
    assert.equal(statusFromMessage({ payload: 'hi' }), undefined);
    assert.equal(
      statusFromMessage(
        esmsEnvelope({ type: 'balance_update', balance: 1 }, 5) as unknown as Record<string, unknown>,
      ),
      undefined,
    );
  });

  it('msg.sms → what a watch needs; a failed or id-less msg.sms cannot be watched', () => {
    assert.deepEqual(sentFromMessage({ sms: { provider: 'cpaas', ids: ['SM1', 'SM1'], to: '+1' } }), {
      provider: 'cpaas',
      ids: ['SM1'],
      to: '+1',
    });
    assert.equal(sentFromMessage({ payload: 1 }), undefined);
    assert.equal(sentFromMessage({ sms: { provider: 'cpaas', ids: [], to: '+1' } }), 'no-id');
    assert.equal(
      sentFromMessage({ sms: { provider: 'cpaas', ids: ['x'], to: '+1', code: 'SMS_TIMEOUT' } }),
      'no-id',
    );
    assert.deepEqual(sentFromMessage({ sms: { provider: 'esms', ids: [42], to: '+2' } }), {
      provider: 'esms',
      ids: ['42'],
      to: '+2',
    });
  });
});
