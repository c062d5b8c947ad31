/*
 * LeadPact widget for amoCRM / Kommo: the LeadPact panel in the lead card's right column.
 *
 * Data comes from our backend (GET {backend_url}/api/widget/leads/{id}) through self.$authorizedAjax, which
 * adds amoCRM's signed X-Auth-Token; the backend checks it and answers only this account's leads.
 * All text is set with textContent, never as HTML, so lead data cannot inject markup into the card.
 */
define(['jquery'], function () {
  'use strict';

  var PANEL_ID = 'leadpact-panel';
  var STYLE_ID = 'leadpact-style';
  var LEVEL_COLORS = { hot: '#e0483a', warm: '#f0a830', cold: '#5b8fd0', unknown: '#8a8f98' };
  var STYLE = [
    '#leadpact-panel{box-sizing:border-box;width:100%;max-width:300px;padding:10px 12px;',
    'font:13px/1.4 "PT Sans",Arial,sans-serif;color:#313942;overflow-wrap:anywhere;}',
    '#leadpact-panel *{box-sizing:border-box;max-width:100%;}',
    '#leadpact-panel .lp-section{margin:8px 0 0;}',
    '#leadpact-panel .lp-label{color:#8a8f98;font-size:11px;text-transform:uppercase;letter-spacing:.03em;}',
    '#leadpact-panel .lp-badge{display:inline-block;padding:1px 8px;border-radius:10px;color:#fff;',
    'font-weight:bold;margin-right:6px;}',
    '#leadpact-panel .lp-promo{border-left:3px solid #1f4e79;padding:4px 0 4px 8px;margin:6px 0;}',
    '#leadpact-panel .lp-code{font-family:monospace;background:#eef3f8;padding:0 4px;border-radius:3px;}',
    '#leadpact-panel .lp-muted{color:#8a8f98;}',
    '#leadpact-panel .lp-warning{color:#b5541a;}',
    '#leadpact-panel textarea{width:100%;min-height:48px;margin:4px 0;resize:vertical;}',
    '#leadpact-panel button{cursor:pointer;padding:2px 8px;margin-top:2px;}'
  ].join('');

  return function () {
    var self = this;
    var clickHandler = null;

    function t(key) {
      var texts = self.i18n('panel') || {};
      return texts[key] || key;
    }

    function backendUrl() {
      var settings = self.get_settings() || {};
      return String(settings.backend_url || '').replace(/\/+$/, '');
    }

    function leadId() {
      var card = (window.AMOCRM && AMOCRM.data && AMOCRM.data.current_card) || {};
      return card.id;
    }

    // The backend refuses a token of another account than the one the card belongs to.
    function accountQuery() {
      try {
        var account = AMOCRM.constant('account');
        return account && account.id ? '?account_id=' + encodeURIComponent(account.id) : '';
      } catch (ignored) {
        return '';
      }
    }

    function node(tag, className, text) {
      var element = document.createElement(tag);
      if (className) { element.className = className; }
      if (text !== undefined && text !== null) { element.textContent = String(text); }
      return element;
    }

    function section(label) {
      var wrapper = node('div', 'lp-section');
      wrapper.appendChild(node('div', 'lp-label', label));
      return wrapper;
    }

    function call(method, path, body) {
      var request = { url: backendUrl() + path, method: method, type: method, dataType: 'json' };
      if (body) {
        request.contentType = 'application/json';
        request.data = JSON.stringify(body);
      }
      return self.$authorizedAjax(request);
    }

    function panel() {
      return document.getElementById(PANEL_ID);
    }

    function showMessage(text) {
      var container = panel();
      if (!container) { return; }
      container.textContent = '';
      container.appendChild(node('div', 'lp-muted', text));
    }

    function waited(seconds) {
      var hours = Math.floor(seconds / 3600);
      if (hours < 48) { return hours + ' ' + t('hours_short'); }
      return Math.floor(hours / 24) + ' ' + t('days_short');
    }

    function renderUntouched(container, data) {
      if (!data.untouched_seconds) { return; }
      container.appendChild(node('div', 'lp-warning lp-untouched', t('untouched').replace('{time}', waited(data.untouched_seconds))));
    }

    function renderLevel(container, data) {
      var block = section(t('level'));
      var level = data.level || 'unknown';
      var badge = node('span', 'lp-badge lp-level', t('level_' + level));
      badge.style.background = LEVEL_COLORS[level] || LEVEL_COLORS.unknown;
      block.appendChild(badge);
      if (data.qualified !== null && data.qualified !== undefined) {
        block.appendChild(node('span', 'lp-muted', data.qualified ? t('qualified') : t('not_qualified')));
      }
      if (data.reason) {
        var why = node('div', 'lp-reason');
        why.appendChild(node('span', 'lp-muted', t('why') + ': '));
        why.appendChild(node('span', null, data.reason));
        block.appendChild(why);
      }
      container.appendChild(block);
    }

    function renderSource(container, data) {
      var block = section(t('source'));
      block.appendChild(node('div', 'lp-channel', t('channel') + ': ' + (data.channel || '—')));
      var source = data.source || {};
      var origin = [source.utm_source, source.utm_medium].filter(Boolean).join(' / ');
      if (origin) { block.appendChild(node('div', 'lp-muted', origin)); }
      if (source.utm_campaign) {
        block.appendChild(node('div', 'lp-muted', t('campaign') + ': ' + source.utm_campaign));
      }
      container.appendChild(block);
    }

    function renderPromos(container, data) {
      var block = section(t('promos'));
      var promos = data.promos || [];
      if (!promos.length) { block.appendChild(node('div', 'lp-muted', t('no_promos'))); }
      promos.forEach(function (promo) {
        var item = node('div', 'lp-promo');
        item.appendChild(node('div', 'lp-promo-name', promo.name)).style.fontWeight = 'bold';
        if (promo.code) {
          var code = node('div');
          code.appendChild(node('span', 'lp-muted', t('code') + ': '));
          code.appendChild(node('span', 'lp-code', promo.code));
          item.appendChild(code);
        }
        if (promo.coupon) {
          var coupon = node('div', 'lp-coupon');
          coupon.appendChild(node('span', 'lp-muted', t('coupon') + ': '));
          coupon.appendChild(node('span', 'lp-code', promo.coupon));
          if (promo.coupon_used) {
            coupon.appendChild(node('span', 'lp-muted', ' — ' + t('used')));
          } else {
            var button = node('button', 'lp-mark-used', t('mark_used'));
            button.type = 'button';
            button.setAttribute('data-code', promo.coupon);
            coupon.appendChild(node('br'));
            coupon.appendChild(button);
          }
          item.appendChild(coupon);
        } else if (promo.coupon_pool_empty) {
          item.appendChild(node('div', 'lp-warning', t('pool_empty')));
        }
        if (promo.ends_on) {
          item.appendChild(node('div', 'lp-muted', t('valid_until') + ' ' + promo.ends_on.split('-').reverse().join('.')));
        }
        if (promo.description) { item.appendChild(node('div', 'lp-promo-description', promo.description)); }
        block.appendChild(item);
      });
      container.appendChild(block);
    }

    function renderEvents(container, data) {
      var events = data.events || [];
      if (!events.length) { return; }
      var block = section(t('events'));
      events.forEach(function (event) {
        block.appendChild(node('div', 'lp-event', event.name + ' — ' + event.date.split('-').reverse().join('.')));
      });
      container.appendChild(block);
    }

    function renderDispute(container, data) {
      var block = section(t('dispute'));
      (data.disputes || []).forEach(function (dispute) {
        block.appendChild(node('div', 'lp-muted', t('disputed') + dispute.reason));
      });
      var criterion = node('select', 'lp-dispute-criterion');
      ['level', 'qualified', 'channel'].forEach(function (name) {
        var option = node('option', '', t('criterion_' + name));
        option.value = name;
        criterion.appendChild(option);
      });
      block.appendChild(criterion);
      var reason = node('textarea', 'lp-dispute-reason');
      reason.setAttribute('placeholder', t('dispute_placeholder'));
      reason.setAttribute('maxlength', '2000');
      block.appendChild(reason);
      var send = node('button', 'lp-dispute-send', t('send'));
      send.type = 'button';
      block.appendChild(send);
      container.appendChild(block);
    }

    function language() {
      return (window.AMOCRM && AMOCRM.lang_id) === 'en' ? 'en' : 'ru';
    }

    // The admin pages open in a new tab through a one-time link: the tab is opened on the click itself (a tab
    // opened after an answer arrives is a popup browsers block), then sent to the link.
    function openAdmin(button) {
      var opened = window.open('about:blank', '_blank');
      var query = accountQuery();
      query += (query ? '&' : '?') + 'lang=' + language();
      if (button) { button.disabled = true; }
      call('POST', '/api/widget/admin-link' + query).then(function (link) {
        if (button) { button.disabled = false; }
        var url = backendUrl() + link.path;
        if (opened) { opened.location.href = url; } else { window.location.href = url; }
      }, function () {
        if (button) { button.disabled = false; }
        if (opened) { opened.close(); }
        window.alert(t('admin_failed'));
      });
    }

    function adminButton() {
      var button = node('button', 'lp-open-admin', t('open_admin'));
      button.type = 'button';
      return button;
    }

    function render(data) {
      var container = panel();
      if (!container) { return; }
      container.textContent = '';
      container.appendChild(node('div', 'lp-title', data.name || '')).style.fontWeight = 'bold';
      renderUntouched(container, data);
      renderLevel(container, data);
      renderSource(container, data);
      renderPromos(container, data);
      renderEvents(container, data);
      renderDispute(container, data);
      if (data.can_open_admin) {
        var admin = node('div', 'lp-section');
        admin.appendChild(adminButton());
        container.appendChild(admin);
      }
      container.setAttribute('data-state', 'ready');
    }

    function load() {
      var id = leadId();
      if (!id) { return; }
      if (!backendUrl()) { showMessage(t('no_backend')); return; }
      showMessage(t('loading'));
      if (panel()) { panel().setAttribute('data-state', 'loading'); }
      call('GET', '/api/widget/leads/' + encodeURIComponent(id) + accountQuery()).then(render, function (failure) {
        var status = failure && failure.status;
        showMessage(status === 404 ? t('not_synced') : t('error'));
        var container = panel();
        if (container) { container.setAttribute('data-state', 'error'); }
      });
    }

    function onClick(event) {
      var target = event.target;
      var container = panel();
      if (!container || !target || !container.contains(target)) { return; }
      var id = encodeURIComponent(leadId());
      if (target.classList.contains('lp-open-admin')) {
        openAdmin(target);
      } else if (target.classList.contains('lp-mark-used')) {
        target.disabled = true;
        call('POST', '/api/widget/leads/' + id + '/coupon-used', { code: target.getAttribute('data-code') })
          .then(load, function () { target.disabled = false; });
      } else if (target.classList.contains('lp-dispute-send')) {
        var reason = container.querySelector('.lp-dispute-reason');
        var chosen = container.querySelector('.lp-dispute-criterion');
        var text = reason ? reason.value.trim() : '';
        if (!text) { return; }
        target.disabled = true;
        var dispute = { reason: text, criterion: chosen ? chosen.value : 'level' };
        call('POST', '/api/widget/leads/' + id + '/disputes', dispute).then(load, function () {
          target.disabled = false;
        });
      }
    }

    this.callbacks = {
      render: function () {
        var area = self.system ? self.system().area : '';
        if (area !== 'lcard') { return true; }
        self.render_template({
          caption: { class_name: 'leadpact-caption' },
          body: '',
          render: '<div id="' + PANEL_ID + '" data-state="loading"></div>'
        });
        load();
        return true;
      },
      init: function () {
        if (!document.getElementById(STYLE_ID)) {
          var style = node('style', null, STYLE);
          style.id = STYLE_ID;
          document.head.appendChild(style);
        }
        return true;
      },
      bind_actions: function () {
        if (!clickHandler) {
          clickHandler = onClick;
          document.addEventListener('click', clickHandler);
        }
        return true;
      },
      // The widget's settings window: where an admin opens LeadPact's rules, sign-off, promos and the report.
      settings: function (modalBody) {
        var body = modalBody && modalBody.jquery ? modalBody[0] : modalBody;
        var host = (body && body.appendChild ? body : null) || document.querySelector('.widget_settings_block');
        if (!host || !backendUrl() || host.querySelector('.lp-open-admin')) { return true; }
        var block = node('div', 'lp-settings-admin');
        block.style.margin = '12px 0';
        block.appendChild(node('div', 'lp-muted', t('admin_hint')));
        var button = adminButton();
        button.addEventListener('click', function () { openAdmin(button); });
        block.appendChild(button);
        host.appendChild(block);
        return true;
      },
      onSave: function () {
        return true;
      },
      destroy: function () {
        if (clickHandler) {
          document.removeEventListener('click', clickHandler);
          clickHandler = null;
        }
        var container = panel();
        if (container && container.parentNode) { container.parentNode.removeChild(container); }
        return true;
      }
    };
    return this;
  };
});
