/* Shared editor helpers for node-red-contrib-sms-notify. Loaded by every node's .html via
 * <script src="resources/node-red-contrib-sms-notify/editor.js"></script>. */
(function () {
  'use strict';
  if (window.SmsNotify) return;

  /**
   * Wire a "Test connection" button. Reads the config fields and credential fields from the open
   * dialog (#node-config-input-<name>), POSTs them to the admin endpoint and shows a spinner, then
   * the exact outcome. Credentials the dialog shows as __PWRD__ (or leaves empty) are resolved by the
   * runtime from the stored credentials, but only for this node as deployed (same URL, tenant, client id,
   * auth mode, proxy); otherwise the answer's code is CREDENTIALS_REQUIRED and the runtime sent nothing:
   * its message asks for the secret, and the untyped secret fields are marked.
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
        credentials[f] = $('#node-config-input-' + f)
          .removeClass('input-error')
          .val();
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
          if (res && res.code === 'CREDENTIALS_REQUIRED') {
            // mark the secrets to type again: the stored ones, else the empty fields in view
            var stored = credentialFields.filter(function (f) {
              return credentials[f] === '__PWRD__';
            });
            (stored.length ? stored : credentialFields).forEach(function (f) {
              var el = $('#node-config-input-' + f);
              if (stored.length || (el.is(':visible') && !el.val())) el.addClass('input-error');
            });
          }
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
            .append(
              document.createTextNode(
                node._('common.test.failed') +
                  ': ' +
                  ((xhr.responseJSON && xhr.responseJSON.error) || 'HTTP ' + xhr.status),
              ),
            );
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

  /** A validator: empty (the runtime's default) or a whole number in [min, max]. */
  function wholeNumber(min, max) {
    return function (v) {
      if (v === '' || v === undefined || v === null) return true;
      var n = Number(v);
      return Math.floor(n) === n && n >= min && n <= max;
    };
  }

  /**
   * The properties every sink shares — the pipeline's (README, "Sending") — with their defaults and checks,
   * merged into the node's own. maxParts: the provider's own ceiling of parts per SMS.
   */
  function sinkDefaults(own, maxParts) {
    var shared = {
      to: { value: '' },
      message: { value: '' },
      rateLimit: { value: 10, validate: wholeNumber(0, 1000000) },
      dedupeWindow: { value: 60, validate: wholeNumber(0, 604800) },
      maxRecipients: { value: 20, validate: wholeNumber(1, 10000) },
      maxParts: { value: 3, validate: wholeNumber(1, maxParts) },
      tooLong: { value: 'refuse' },
      defaultCountry: {
        value: '',
        validate: function (v) {
          return /^([A-Za-z]{2})?$/.test(String(v || '').trim());
        },
      },
      queueSize: { value: 100, validate: wholeNumber(1, 100000) },
      overflow: { value: 'drop-new' },
      // optional sms-cluster: shared dedupe and rate limit across Node-RED instances
      cluster: { value: '', type: 'sms-cluster', required: false },
      retries: { value: 3, validate: wholeNumber(0, 10) },
      timeout: {
        value: 15,
        validate: function (v) {
          var n = Number(v);
          return v === '' || v === undefined || v === null || (n > 0 && n <= 600);
        },
      },
    };
    return $.extend(shared, own);
  }

  /** The shared part of a sink's oneditprepare: selects, spinners, the "advanced" toggle. */
  function prepareSinkDialog(node, maxParts) {
    $('#node-input-tooLong').val(node.tooLong === 'truncate' ? 'truncate' : 'refuse');
    $('#node-input-overflow').val(node.overflow === 'drop-old' ? 'drop-old' : 'drop-new');
    $('#node-input-rateLimit').spinner({ min: 0 });
    $('#node-input-dedupeWindow').spinner({ min: 0 });
    $('#node-input-maxRecipients').spinner({ min: 1, max: 10000 });
    $('#node-input-maxParts').spinner({ min: 1, max: maxParts });
    $('#node-input-queueSize').spinner({ min: 1 });
    $('#node-input-retries').spinner({ min: 0, max: 10 });
    $('#node-input-timeout').spinner({ min: 1 });
    $('#node-input-advanced-toggle').on('click', function (e) {
      e.preventDefault();
      $('#node-input-advanced').toggle();
    });
  }

  /** A recipient list for a node label: "+48500…, +48600…" → "+48500… +1". */
  function shortList(to) {
    var list = String(to || '').split(',');
    return list[0].trim() + (list.length > 1 ? ' +' + (list.length - 1) : '');
  }

  window.SmsNotify = {
    testConnection: testConnection,
    shortId: shortId,
    shortList: shortList,
    wholeNumber: wholeNumber,
    sinkDefaults: sinkDefaults,
    prepareSinkDialog: prepareSinkDialog,
    category: 'SMS notify',
  };
})();
