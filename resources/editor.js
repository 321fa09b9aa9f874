/* Shared editor helpers for node-red-contrib-sms-notify. Loaded by every node's .html via
 * <script src="resources/node-red-contrib-sms-notify/editor.js"></script>. */
(function () {
  'use strict';
  if (window.SmsNotify) return;

  /**
   * Wire a "Test connection" button. Reads the config fields and credential fields from the open
   * dialog (#node-config-input-<name>), POSTs them to the admin endpoint and shows a spinner, then
   * the exact outcome. Credentials the dialog shows as __PWRD__ are resolved by the runtime from the
   * stored credentials of this node id.
   */
  function testConnection(node, type, fields, credentialFields, options) {
    options = options || {};
    var button = $(options.button || '#node-config-test-connection');
    var result = $(options.result || '#node-config-test-result');
    button.off('click.smsnotify').on('click.smsnotify', function (e) {
      e.preventDefault();
      var config = {};
      fields.forEach(function (f) {
        var el = $('#node-config-input-' + f);
        config[f] = el.is(':checkbox') ? el.is(':checked') : el.val();
      });
      var credentials = {};
      credentialFields.forEach(function (f) {
        credentials[f] = $('#node-config-input-' + f).val();
      });
      button.prop('disabled', true);
      result
        .removeClass('sms-notify-ok sms-notify-fail')
        .html('<i class="fa fa-spinner fa-spin"></i> ')
        .append(document.createTextNode(node._('common.test.testing')));
      $.ajax({
        url: 'sms-notify/test/' + encodeURIComponent(type),
        type: 'POST',
        contentType: 'application/json',
        data: JSON.stringify({ id: node.id, config: config, credentials: credentials }),
        timeout: 30000,
      })
        .done(function (res) {
          var ok = res && res.ok;
          result
            .addClass(ok ? 'sms-notify-ok' : 'sms-notify-fail')
            .html(
              ok
                ? '<i class="fa fa-check" style="color:#3a3"></i> '
                : '<i class="fa fa-times" style="color:#c33"></i> ',
            )
            .append(
              document.createTextNode(ok ? res.message : res.error + (res.code ? ' [' + res.code + ']' : '')),
            );
        })
        .fail(function (xhr) {
          result
            .addClass('sms-notify-fail')
            .html('<i class="fa fa-times" style="color:#c33"></i> ')
            .append(document.createTextNode(node._('common.test.failed') + ': HTTP ' + xhr.status));
        })
        .always(function () {
          button.prop('disabled', false);
        });
    });
  }

  /** Shorten an id for a node label: 66f76cdc06848d6a6494f783 → 66f7… */
  function shortId(id) {
    id = String(id || '');
    return id.length > 8 ? id.slice(0, 4) + '…' : id;
  }

  window.SmsNotify = { testConnection: testConnection, shortId: shortId, category: 'SMS notify' };
})();
