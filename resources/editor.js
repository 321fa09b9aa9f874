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
            .append(document.createTextNode(answerText(node, res)));
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

  /** A catalog text, or undefined when the catalog has no such key. */
  function translated(node, key, params) {
    var text = node._(key, params);
    return text && text !== key ? text : undefined;
  }

  /**
   * A Test connection answer in the editor's language: the endpoint's own texts come as catalog keys;
   * a failure's code is said in words before the service's own (English) detail.
   */
  function answerText(node, res) {
    if (!res) return node._('common.test.failed');
    if (res.ok) return node._('common.test.ok') + ': ' + res.message;
    if (res.key) return translated(node, res.key) || res.error;
    var reason = res.code ? translated(node, 'common.testCodes.' + res.code) : undefined;
    return (reason ? reason + ': ' : '') + res.error + (res.code ? ' [' + res.code + ']' : '');
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
   * The runtime's lists (written by the build into lists.js): event types per source, the E.164 pattern.
   * Read when used, never kept from load time: the editor may load this file from a node's .html
   * that does not include lists.js (cluster, delivery watch) before any that does.
   */
  var NO_LISTS = { events: {}, e164: '^\\+[1-9]\\d{1,14}$' };
  function lists() {
    return window.SmsNotifyLists || NO_LISTS;
  }
  var e164Cache = { source: '', re: /$^/ };
  function e164() {
    var source = lists().e164;
    if (e164Cache.source !== source) e164Cache = { source: source, re: new RegExp(source) };
    return e164Cache.re;
  }

  /** A validator for an optional E.164 field (a sender or a source's number); `key`: the reason's catalog key. */
  function optionalE164(key) {
    return function (v, opt) {
      if (!v || e164().test(String(v).trim())) return true;
      return opt ? this._(key) : false;
    };
  }

  /**
   * Why a To list would fail at runtime, as far as the editor can tell without the phone-number
   * tables: each entry is E.164 (+ country code), or a national number when a default country is set.
   * Returns undefined when it looks fine, else {key, number} for common.sinkForm.<key>.
   */
  function recipientProblem(value, country) {
    var items = String(value || '')
      .split(/[,;\n]/)
      .map(function (s) {
        return s.trim();
      })
      .filter(Boolean);
    var national = /^[A-Za-z]{2}$/.test(String(country || '').trim());
    for (var i = 0; i < items.length; i++) {
      var digits = items[i].replace(/[\s\-().]/g, '');
      if (digits.charAt(0) === '+') {
        if (!e164().test(digits) || digits.length < 8) return { key: 'toNotE164', number: items[i] };
      } else if (!/^\d+$/.test(digits)) {
        return { key: 'toNotNumber', number: items[i] };
      } else if (!national) {
        return { key: 'toNoCountry', number: items[i] };
      } else if (digits.length < 6 || digits.length > 15) {
        return { key: 'toNational', number: items[i], country: String(country).trim().toUpperCase() };
      }
    }
    return undefined;
  }

  /**
   * Why a service URL is not usable, or undefined: no scheme ("localhost:9111"), another scheme,
   * not a URL at all ("http://localhost:9111localhost:9111"), or a query / fragment.
   */
  function urlProblem(value, schemes) {
    var v = String(value || '').trim();
    if (!v) return 'empty';
    var scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(v);
    if (!scheme) return 'noScheme';
    if (schemes.indexOf(scheme[1].toLowerCase()) < 0) return 'scheme';
    var url;
    try {
      url = new URL(v);
    } catch (e) {
      return 'invalid';
    }
    if (!url.hostname || /\s/.test(v)) return 'invalid';
    if (url.search || url.hash || /[?#]/.test(v)) return 'query';
    return undefined;
  }

  function schemesText(schemes) {
    return (schemes || ['http', 'https']).join(':// or ') + '://';
  }

  /** A config node's service URL property: `value` its default ('' for a placeholder), with the reason when red. */
  function urlProperty(value, schemes) {
    schemes = schemes || ['http', 'https'];
    return {
      value: value,
      required: true,
      validate: function (v, opt) {
        var reason = urlProblem(v, schemes);
        if (!reason) return true;
        return opt ? this._('common.url.' + reason, { schemes: schemesText(schemes) }) : false;
      },
    };
  }

  /**
   * The properties every sink shares — the pipeline's (README, "Sending") — with their defaults and checks,
   * merged into the node's own. maxParts: the provider's own ceiling of parts per SMS.
   */
  function sinkDefaults(own, maxParts) {
    var shared = {
      to: {
        value: '',
        validate: function (v, opt) {
          // while the dialog is open its Country counts, not the saved one
          var field = $('#node-input-defaultCountry');
          var reason = recipientProblem(v, field.length ? field.val() : this.defaultCountry);
          if (!reason) return true;
          return opt ? this._('common.sinkForm.' + reason.key, reason) : false;
        },
      },
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

  /** The shared part of a sink's oneditprepare: selects, spinners, the "advanced" toggle, hints. */
  function prepareSinkDialog(node, maxParts) {
    $('#node-input-tooLong').val(node.tooLong === 'truncate' ? 'truncate' : 'refuse');
    $('#node-input-overflow').val(node.overflow === 'drop-old' ? 'drop-old' : 'drop-new');
    $('#node-input-rateLimit').spinner({ min: 0 });
    $('#node-input-maxRecipients').spinner({ min: 1, max: 10000 });
    $('#node-input-maxParts').spinner({ min: 1, max: maxParts });
    $('#node-input-queueSize').spinner({ min: 1 });
    $('#node-input-retries').spinner({ min: 0, max: 10 });
    $('#node-input-timeout').spinner({ min: 1 });
    var advanced = $('#node-input-advanced');
    var toggle = $('#node-input-advanced-toggle');
    toggle.on('click', function (e) {
      e.preventDefault();
      advanced.toggle();
      toggle.toggleClass('sms-notify-open', advanced.is(':visible'));
    });
    // say what dedupe does with the number typed (0 = off)
    var dedupe = $('#node-input-dedupeWindow');
    function sayDedupe() {
      var n = Number(dedupe.val());
      $('#node-input-dedupe-tip').text(
        n > 0 && Math.floor(n) === n
          ? node._('common.sinkForm.dedupeTip', { seconds: n })
          : node._('common.sinkForm.dedupeOff'),
      );
    }
    dedupe.spinner({ min: 0, stop: sayDedupe, change: sayDedupe }).on('input change keyup', sayDedupe);
    sayDedupe();
    // an empty Message sends msg.payload as it is: say so while it is empty
    var message = $('#node-input-message');
    function sayMessage() {
      $('#node-input-message-empty').toggle(String(message.val() || '').trim() === '');
    }
    message.on('input change keyup', sayMessage);
    sayMessage();
    // the reason a To is red, under the field
    var to = $('#node-input-to');
    var country = $('#node-input-defaultCountry');
    function sayTo() {
      var reason = recipientProblem(to.val(), country.val());
      $('#node-input-to-reason')
        .text(reason ? node._('common.sinkForm.' + reason.key, reason) : '')
        .toggle(!!reason);
    }
    to.on('input change keyup', sayTo);
    country.on('input change keyup', function () {
      to.trigger('change'); // Node-RED validates To again, with this Country
    });
    sayTo();
  }

  // ----------------------------------------------------------------- shared dialog rows

  function row(id, icon, labelKey, field, after) {
    return (
      '<div class="form-row"><label for="' +
      id +
      '"><i class="fa fa-' +
      icon +
      '"></i> <span data-i18n="' +
      labelKey +
      '"></span></label>' +
      field +
      (after || '') +
      '</div>'
    );
  }
  function number(id, icon, labelKey, unitKey, extra) {
    return row(
      id,
      icon,
      labelKey,
      '<input type="text" id="' + id + '" style="width:80px"' + (extra || '') + ' />',
      unitKey ? ' <span data-i18n="' + unitKey + '"></span>' : '',
    );
  }
  function select(id, icon, labelKey, options) {
    return row(
      id,
      icon,
      labelKey,
      '<select id="' +
        id +
        '" style="width:70%">' +
        options
          .map(function (o) {
            return '<option value="' + o[0] + '" data-i18n="' + o[1] + '"></option>';
          })
          .join('') +
        '</select>',
    );
  }
  var F = 'common.sinkForm.';

  /**
   * The rows a dialog template names with <div data-rows="NAME"></div>, built here once. A sink's
   * `p` is its catalog prefix (smsapi-out): its placeholders and template tip stay its own.
   * The element's content (advanced: the provider's own options) goes inside the section.
   */
  var SECTIONS = {
    // To, Message (with the empty warning) and the template tip
    'sink-message': function (p) {
      return (
        row(
          'node-input-to',
          'mobile',
          F + 'to',
          '<input type="text" id="node-input-to" style="width:70%" data-i18n="[placeholder]' +
            p +
            '.placeholder.to" />',
        ) +
        '<div class="form-tips sms-notify-reason" id="node-input-to-reason" style="display:none"></div>' +
        row(
          'node-input-message',
          'comment',
          F + 'message',
          '<textarea id="node-input-message" rows="3" style="width:70%; font-family:monospace" data-i18n="[placeholder]' +
            p +
            '.placeholder.message"></textarea>',
        ) +
        '<div class="form-tips sms-notify-warning" id="node-input-message-empty" style="display:none" data-i18n="[html]' +
        F +
        'messageEmpty"></div>' +
        '<div class="form-tips" style="margin-bottom:12px" data-i18n="' +
        p +
        '.tip.template"></div>'
      );
    },
    // Country, rate limit, dedupe (said in words), recipients, parts, too long
    'sink-guards': function (p) {
      return (
        row(
          'node-input-defaultCountry',
          'flag',
          F + 'defaultCountry',
          '<input type="text" id="node-input-defaultCountry" style="width:70%" data-i18n="[placeholder]' +
            p +
            '.placeholder.defaultCountry" />',
        ) +
        number('node-input-rateLimit', 'tachometer', F + 'rateLimit', F + 'unit.perMinute') +
        number('node-input-dedupeWindow', 'clone', F + 'dedupeWindow', F + 'unit.seconds') +
        '<div class="form-tips" id="node-input-dedupe-tip"></div>' +
        number(
          'node-input-maxRecipients',
          'users',
          F + 'maxRecipients',
          F + 'perMessage',
          ' data-i18n="[title]' + F + 'maxRecipientsTip"',
        ) +
        number('node-input-maxParts', 'th-large', F + 'maxParts', F + 'unit.parts') +
        select('node-input-tooLong', 'scissors', F + 'tooLong', [
          ['refuse', F + 'tooLongOption.refuse'],
          ['truncate', F + 'tooLongOption.truncate'],
        ])
      );
    },
    // the "Advanced" toggle and its rows; `inner`: the provider's own options
    'sink-advanced': function (p, inner) {
      return (
        '<div class="form-row"><a href="#" id="node-input-advanced-toggle" class="sms-notify-toggle">' +
        '<i class="fa fa-caret-right"></i> <i class="fa fa-cog"></i> <span data-i18n="' +
        F +
        'advanced"></span></a></div>' +
        '<div id="node-input-advanced" class="sms-notify-advanced" style="display:none">' +
        number('node-input-queueSize', 'list', F + 'queueSize', F + 'unit.pending') +
        select('node-input-overflow', 'ban', F + 'overflow', [
          ['drop-new', F + 'overflowOption.drop-new'],
          ['drop-old', F + 'overflowOption.drop-old'],
        ]) +
        number('node-input-retries', 'repeat', F + 'retries') +
        number('node-input-timeout', 'clock-o', F + 'timeout', F + 'unit.timeout') +
        (inner || '') +
        '</div>'
      );
    },
    // a whole sink dialog: its config node, To/Message, its sender (data-from), the guards, its own
    // rows (the element's content), Advanced, cluster and name
    sink: function (p, inner, el) {
      var config = el.attr('data-config');
      // <div data-advanced>: the provider's own options, under "Advanced"
      var advanced = el.children('[data-advanced]');
      var options = advanced.html() || '';
      advanced.remove();
      inner = el.html();
      var from =
        el.attr('data-from') === undefined
          ? ''
          : row(
              'node-input-from',
              'user',
              p + '.label.from',
              '<input type="text" id="node-input-from" style="width:70%" data-i18n="[placeholder]' +
                p +
                '.placeholder.from" />',
            );
      return (
        row(
          'node-input-' + config,
          el.attr('data-icon') || 'server',
          p + '.label.' + config,
          '<input type="text" id="node-input-' + config + '" style="width:70%" />',
        ) +
        SECTIONS['sink-message'](p) +
        from +
        SECTIONS['sink-guards'](p) +
        inner +
        SECTIONS['sink-advanced'](p, options) +
        SECTIONS['cluster-name'](p)
      );
    },
    // the optional cluster and the name: the last rows of every flow node that has a cluster
    'cluster-name': function (p) {
      return (
        row(
          'node-input-cluster',
          'server',
          'common.cluster.label',
          '<input type="text" id="node-input-cluster" style="width:70%" />',
        ) +
        row(
          'node-input-name',
          'tag',
          p + '.label.name',
          '<input type="text" id="node-input-name" style="width:70%" />',
        )
      );
    },
    // a config node's name and service URL (its placeholder from the node's catalog)
    'name-url': function (p) {
      return (
        row(
          'node-config-input-name',
          'tag',
          p + '.label.name',
          '<input type="text" id="node-config-input-name" />',
        ) +
        row(
          'node-config-input-url',
          'globe',
          p + '.label.url',
          '<input type="text" id="node-config-input-url" data-i18n="[placeholder]' +
            p +
            '.placeholder.url" />',
        )
      );
    },
    // a config node's secret (data-name) with its placeholder and tip from the node's catalog
    secret: function (p, inner, el) {
      var name = el.attr('data-name');
      var id = 'node-config-input-' + name;
      var html = row(
        id,
        el.attr('data-icon') || 'key',
        p + '.label.' + name,
        '<input type="password" id="' +
          id +
          '" autocomplete="off" data-i18n="[placeholder]' +
          p +
          '.placeholder.' +
          name +
          '" />',
      );
      // data-class: a class for the row (shown by mode); data-tip: a tip under it
      if (el.attr('data-class'))
        html = html.replace('class="form-row"', 'class="form-row ' + el.attr('data-class') + '"');
      if (el.attr('data-tip') !== undefined)
        html += '<div class="form-tips" data-i18n="' + p + '.tip.' + name + '"></div>';
      return html;
    },
    // a config node's proxy picker and Test connection button
    'proxy-test': function () {
      return (
        row(
          'node-config-input-proxy',
          'globe',
          'common.proxy.label',
          '<input type="text" id="node-config-input-proxy" />',
        ) +
        '<div class="form-tips" data-i18n="[html]common.proxy.tip"></div>' +
        '<div class="form-row" style="margin-top:12px"><label>&nbsp;</label>' +
        '<button type="button" class="red-ui-button" id="node-config-test-connection"><i class="fa fa-plug"></i> ' +
        '<span data-i18n="common.test.button"></span></button>' +
        '<span id="node-config-test-result" style="margin-left:8px"></span></div>'
      );
    },
    // a checklist from a runtime list: data-list names it; the event types of a source by default
    events: function (p, inner, el) {
      var types = lists().events[el.attr('data-list')] || [];
      var code = el.attr('data-code') !== undefined;
      var cls = el.attr('data-class') || 'sms-notify-event';
      var items = el.attr('data-items') || p + '.events';
      var tip = el.attr('data-tip') || p + '.tip.events';
      return (
        '<div class="form-row"><label style="vertical-align:top"><i class="fa fa-' +
        (el.attr('data-icon') || 'filter') +
        '"></i> <span data-i18n="' +
        (el.attr('data-label') || p + '.label.events') +
        '"></span></label>' +
        '<div style="display:inline-block; width:70%">' +
        types
          .map(function (t) {
            return (
              '<label style="width:auto; display:block"><input type="checkbox" class="' +
              cls +
              '" value="' +
              t +
              '" style="width:auto; margin:0 6px 0 0" /> ' +
              (code ? '<code>' + t + '</code> ' : '') +
              '<span data-i18n="' +
              items +
              '.' +
              t +
              '"></span></label>'
            );
          })
          .join('') +
        '</div></div>' +
        '<div class="form-tips" data-i18n="' +
        tip +
        '"></div>'
      );
    },
  };

  /**
   * Expand the <div data-rows="…"> markers of a dialog template. Called once, as the node's
   * script registers its type: Node-RED reads the template each time a dialog opens.
   */
  function template(type, prefix) {
    var script = $('script[data-template-name="' + type + '"]');
    var box = $('<div></div>').html(script.html());
    box.find('[data-rows]').each(function () {
      var el = $(this);
      var build = SECTIONS[el.attr('data-rows')];
      el.replaceWith(build(prefix, el.html(), el));
    });
    script.text(box.html());
  }

  /** A source's event types: valid when every chosen one is on the runtime's list. */
  function eventsDefault(list) {
    return {
      value: [],
      validate: function (v) {
        var known = lists().events[list] || [];
        return (
          Array.isArray(v) &&
          v.every(function (e) {
            return known.indexOf(e) >= 0;
          })
        );
      },
    };
  }
  function prepareEvents(node) {
    var events = Array.isArray(node.events) ? node.events : [];
    $('.sms-notify-event').each(function () {
      $(this).prop('checked', events.indexOf($(this).val()) >= 0);
    });
  }
  function saveEvents(node) {
    node.events = $('.sms-notify-event:checked')
      .map(function () {
        return this.value;
      })
      .get();
  }

  /** A config node's label when it has no name: the host of its URL, else its type's palette label. */
  function hostOf(url, withoutPort) {
    var m = /^[a-z]+:\/\/([^/?#]+)/i.exec(url || '');
    var host = m ? m[1].replace(/^[^@]*@/, '') : '';
    return withoutPort ? host.replace(/:\d*$/, '') : host;
  }

  /**
   * A sink's node definition: what every sink shares (palette, label, shared properties and dialog)
   * around its own parts. `own`: {prefix, color, icon, maxParts, defaults, outputLabel?, label?,
   * oneditprepare?} — `prefix` is its catalog key (smsapi-out).
   */
  function sinkType(own) {
    var p = own.prefix;
    return {
      category: 'SMS notify',
      color: own.color,
      defaults: sinkDefaults($.extend({ name: { value: '' } }, own.defaults), own.maxParts),
      inputs: 1,
      outputs: 1,
      icon: own.icon,
      align: 'right',
      paletteLabel: function () {
        return this._(p + '.paletteLabel');
      },
      label:
        own.label ||
        function () {
          if (this.name) return this.name;
          return this.to ? this._(p + '.labelTo', { to: shortList(this.to) }) : this._(p + '.labelMsgTo');
        },
      labelStyle: function () {
        return this.name ? 'node_label_italic' : '';
      },
      inputLabels: own.inputLabels,
      outputLabels: function () {
        return own.outputLabel || 'msg.sms';
      },
      oneditprepare: function () {
        if (own.oneditprepare) own.oneditprepare.call(this);
        prepareSinkDialog(this, own.maxParts);
      },
    };
  }

  /**
   * A config node's definition: name, proxy and service URL, palette label, label and Test connection.
   * `own`: {prefix (its type and catalog key), url (default, '' = placeholder only), schemes?, defaults,
   * credentials, testFields (settings Test connection reads besides url and proxy), label (without a
   * name), oneditprepare?}.
   */
  function configType(own) {
    var p = own.prefix;
    var shared = { name: { value: '' }, proxy: { type: 'http proxy', required: false } };
    if (own.url !== undefined) shared.url = urlProperty(own.url, own.schemes);
    return {
      category: 'config',
      defaults: $.extend(shared, own.defaults),
      credentials: own.credentials,
      paletteLabel: function () {
        return this._(p + '.paletteLabel');
      },
      label: function () {
        return this.name || own.label.call(this);
      },
      oneditprepare: function () {
        var node = this;
        if (own.oneditprepare) own.oneditprepare.call(node);
        if (shared.url) {
          // the reason a URL is red, under the field (typing into a placeholder, not after a value)
          var url = $('#node-config-input-url');
          var reason = $('<div class="form-tips sms-notify-reason" id="node-config-input-url-reason"></div>');
          reason.hide().insertAfter(url.closest('.form-row'));
          var sayUrl = function () {
            var why = urlProblem(url.val(), own.schemes || ['http', 'https']);
            var text =
              why && why !== 'empty'
                ? node._('common.url.' + why, { schemes: schemesText(own.schemes) })
                : '';
            reason.text(text).toggle(!!text);
          };
          url.on('input change keyup', sayUrl);
          sayUrl();
        }
        testConnection(
          node,
          p,
          ['url'].concat(own.testFields || [], ['proxy']),
          Object.keys(own.credentials),
        );
      },
    };
  }

  /** A recipient list for a node label: "+48500…, +48600…" → "+48500… +1". */
  function shortList(to) {
    var list = String(to || '').split(',');
    return list[0].trim() + (list.length > 1 ? ' +' + (list.length - 1) : '');
  }

  // ------------------------------------------------------- statuses in the editor's language
  /**
   * The runtime words its statuses with its own language (English unless Node-RED's `lang` is set).
   * For an editor in another language, a status of this package that reads exactly like one of the
   * en-US catalog's status texts is shown again from the browser's catalog, with the same values.
   */
  var MODULE = 'node-red-contrib-sms-notify';
  var STATUS_SECTIONS = ['status', 'sink', 'cluster'];
  var statusPatterns = {};

  function escapeRegExp(text) {
    return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  /** every status text of a catalog as {re, key, names}, the most literal first */
  function patternsOf(catalog) {
    var list = [];
    (function walk(obj, prefix, isStatus) {
      Object.keys(obj || {}).forEach(function (k) {
        var v = obj[k];
        var key = prefix ? prefix + '.' + k : k;
        if (v && typeof v === 'object') walk(v, key, isStatus || STATUS_SECTIONS.indexOf(k) >= 0);
        else if (isStatus && typeof v === 'string') {
          var names = [];
          var source = v
            .split(/(__\w+__)/)
            .map(function (part) {
              var name = /^__(\w+)__$/.exec(part);
              if (!name) return escapeRegExp(part);
              names.push(name[1]);
              return '(.+?)';
            })
            .join('');
          var literal = v.replace(/__\w+__/g, '').trim();
          if (literal.length >= 3)
            list.push({ re: new RegExp('^' + source + '$'), key: key, names: names, weight: literal.length });
        }
      });
    })(catalog, '', false);
    return list.sort(function (a, b) {
      return b.weight - a.weight;
    });
  }
  function translatePiece(node, list, piece) {
    for (var i = 0; i < list.length; i++) {
      var m = list[i].re.exec(piece);
      if (!m) continue;
      var params = {};
      list[i].names.forEach(function (name, j) {
        params[name] = /^\d+$/.test(m[j + 1]) ? Number(m[j + 1]) : m[j + 1];
      });
      return node._(list[i].key, params);
    }
    return undefined;
  }
  function translateStatus(node) {
    var set = node._def && node._def.set;
    var list = set && statusPatterns[set.id];
    if (!list || !list.length || !node.status || typeof node.status.text !== 'string') return;
    var text = node.status.text;
    var whole = translatePiece(node, list, text);
    var out =
      whole ||
      text
        .split(' · ')
        .map(function (piece) {
          return translatePiece(node, list, piece) || piece;
        })
        .join(' · ');
    if (out === text) return;
    node.status = $.extend({}, node.status, { text: out });
    node.dirtyStatus = true;
    node.dirty = true;
    RED.view.redrawStatus(node);
  }
  function ours(node) {
    return !!(node && node._def && node._def.set && node._def.set.module === MODULE);
  }
  function loadStatusPatterns(setId) {
    if (statusPatterns[setId]) return;
    statusPatterns[setId] = [];
    $.ajax({
      url: 'nodes/' + setId + '/messages?lng=en-US',
      headers: { Accept: 'application/json' },
      dataType: 'json',
    }).done(function (catalog) {
      statusPatterns[setId] = patternsOf(catalog);
      RED.nodes.eachNode(function (n) {
        if (ours(n) && n._def.set.id === setId) translateStatus(n);
      });
    });
  }
  (function translateStatuses() {
    // the language node catalogs are loaded in (Node-RED's own editor may lack it and say en-US)
    var lang = localStorage.getItem('editor-language') || navigator.language || 'en-US';
    if (/^en\b/i.test(lang) || !RED.comms || !RED.comms.subscribe) return;
    // after Node-RED's own handler (subscribed first) has stored the status
    RED.comms.subscribe('status/#', function (topic) {
      var node = RED.nodes.node(topic.split('/')[1]);
      if (!ours(node)) return;
      loadStatusPatterns(node._def.set.id);
      translateStatus(node);
    });
  })();

  // The look of the shared rows: "Advanced" is a toggle, text beside a checkbox wraps in its own
  // column (not under the label), reasons are red, and long code in this package's help wraps.
  $('<style id="sms-notify-style"></style>')
    .text(
      [
        '.sms-notify-toggle { display: inline-block; padding: 2px 10px; border: 1px solid var(--red-ui-form-input-border-color, #ccc);',
        '  border-radius: 4px; text-decoration: none !important; color: var(--red-ui-form-text-color, #555); }',
        '.sms-notify-toggle:hover { background: var(--red-ui-secondary-background-hover, #eee); }',
        '.sms-notify-toggle .fa-caret-right { width: 8px; transition: transform 0.15s; }',
        '.sms-notify-toggle.sms-notify-open .fa-caret-right { transform: rotate(90deg); }',
        '.sms-notify-advanced { border-left: 2px solid var(--red-ui-secondary-border-color, #ddd); padding-left: 8px; margin-bottom: 12px; }',
        '.sms-notify-beside { display: inline-block; width: calc(70% - 30px); vertical-align: top; }',
        '.form-tips.sms-notify-reason { color: var(--red-ui-text-color-error, #d6615f); }',
        '.form-tips.sms-notify-warning { border-color: var(--red-ui-text-color-warning, #c90); }',
        '.red-ui-help:has(p.sms-notify-help) code { white-space: normal; overflow-wrap: anywhere; }',
      ].join('\n'),
    )
    .appendTo('head');

  window.SmsNotify = {
    testConnection: testConnection,
    shortId: shortId,
    shortList: shortList,
    wholeNumber: wholeNumber,
    optionalE164: optionalE164,
    urlProblem: urlProblem,
    urlProperty: urlProperty,
    recipientProblem: recipientProblem,
    template: template,
    eventsDefault: eventsDefault,
    prepareEvents: prepareEvents,
    saveEvents: saveEvents,
    hostOf: hostOf,
    sinkDefaults: sinkDefaults,
    sinkType: sinkType,
    configType: configType,
    prepareSinkDialog: prepareSinkDialog,
    category: 'SMS notify',
  };
  // the lists as they are now (see lists())
  Object.defineProperty(window.SmsNotify, 'lists', { get: lists, enumerable: true });
})();
