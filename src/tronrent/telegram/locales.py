"""Bot texts, zh-CN (default) and English. Templates are Telegram HTML; params get escaped."""

from __future__ import annotations

from tronrent.kit.i18n import Catalog

CATALOG: Catalog = {
    "zh": {
        "welcome": (
            "👋 欢迎使用 <b>{bot_name}</b>！\n"
            "在这里租用 TRON 能量，USDT 转账几乎不再烧 TRX。\n请选择下方功能："
        ),
        "referral.bound": "🤝 已绑定推荐人。",
        "menu.title": "请选择功能：",
        "btn.flash": "⚡ 能量闪租",
        "btn.orders": "📋 我的订单",
        "btn.balance": "💰 余额",
        "btn.help": "❓ 帮助",
        "btn.language": "🌐 Language / 语言",
        "btn.rent_for_address": "🎯 为指定地址租用",
        "btn.confirm": "✅ 确认下单",
        "btn.abort": "✖️ 取消",
        "btn.check_payment": "✅ 我已付款",
        "btn.cancel_order": "❌ 取消订单",
        "btn.my_order": "📄 查看订单",
        "btn.prev": "⬅️ 上一页",
        "btn.next": "下一页 ➡️",
        "btn.menu": "🏠 主菜单",
        "apikey.created": (
            "🔑 <b>API 密钥已创建</b>（{name}）\n"
            "Key ID：<code>{key_id}</code>\n"
            "Secret：<code>{secret}</code>\n\n"
            "⚠️ Secret 只显示这一次：请立即保存，然后删除本消息。签名方法见 docs/merchant-api.md。"
        ),
        "apikey.none": "🔑 暂无 API 密钥。发送 /apikey 创建。",
        "apikey.list.title": "🔑 <b>API 密钥</b>",
        "apikey.list.item": (
            "\n<code>{key_id}</code> · {name} · {status} · 最近使用 {used}\n"
            "   IP：{ips} · 回调：{url}"
        ),
        "apikey.list.howto": (
            "\n\n设置 IP 白名单：/keyips &lt;Key ID&gt; &lt;IP 或网段…&gt;（any = 不限）\n"
            "设置回调地址：/keyurl &lt;Key ID&gt; &lt;https://…&gt;（none = 不回调）"
        ),
        "apikey.any_ip": "不限",
        "apikey.ips.usage": (
            "用法：/keyips &lt;Key ID&gt; &lt;IP 或网段&gt; [更多…]，例如 "
            "<code>/keyips mk_… 203.0.113.7 10.0.0.0/8</code>；<code>any</code> 取消限制"
        ),
        "apikey.url.usage": (
            "用法：/keyurl &lt;Key ID&gt; &lt;https://…&gt;；<code>none</code> 取消回调地址"
        ),
        "apikey.set.ips": "✅ 密钥 <code>{key_id}</code> 的 IP 白名单：{value}",
        "apikey.set.url": "✅ 密钥 <code>{key_id}</code> 的回调地址：{value}",
        "apikey.revoke.usage": "用法：/revokekey &lt;Key ID&gt;",
        "apikey.revoked": "🔒 密钥 <code>{key_id}</code> 已吊销。",
        "apikey.unavailable": "API 密钥暂不可用，请稍后再试。",
        "help": (
            "❓ <b>帮助</b>\n"
            "/start 开始并注册\n/menu 主菜单\n/balance 查询余额\n/orders 订单记录\n"
            "/cancel 取消当前操作\n/help 帮助\n\n"
            "能量套餐：在 /menu 选择套餐、数量和接收地址，用 TRX、USDT 或余额支付。\n"
            "能量闪租：向闪租地址转 TRX，能量自动委托到付款地址；"
            "或点「为指定地址租用」让能量发到其他地址。"
        ),
        "cmd.start": "开始 / 注册",
        "cmd.menu": "主菜单",
        "cmd.help": "帮助",
        "cmd.balance": "余额",
        "cmd.orders": "订单记录",
        "balance.platform": "💰 <b>平台余额</b>\nTRX：{trx}\nUSDT：{usdt}",
        "balance.address": (
            "\n\n📮 绑定地址 <code>{address}</code>\nTRX：{trx}\nUSDT：{usdt}\n可用能量：{energy}"
        ),
        "balance.no_address": "\n\n尚未绑定 TRON 地址（为地址下单后自动绑定）。",
        "balance.ledger.title": "\n\n🧾 <b>最近余额变动</b>",
        "balance.ledger.empty": "\n\n🧾 暂无余额变动。",
        "balance.ledger.item": "\n{amount} {currency} · {cause} · {created}",
        "ledger.cause.top_up": "充值",
        "ledger.cause.order_payment": "订单支付",
        "ledger.cause.order_refund": "订单退款",
        "ledger.cause.commission": "佣金",
        "ledger.cause.withdrawal": "提现",
        "ledger.cause.adjustment": "人工调整",
        "ledger.cause.idle_fee": "闲置费",
        "ledger.cause.withdrawal_return": "提现退回",
        "agent.link": "🤝 <b>推荐</b>\n推荐码：<code>{code}</code>\n推荐链接：{link}",
        "agent.not_agent": (
            "\n\n成为代理即可获得佣金：发送 /agent apply 加上您的业务介绍与联系方式。"
        ),
        "agent.application_pending": "\n\n⏳ 您的代理申请正在审核中。",
        "agent.summary": (
            "\n\n👔 <b>代理</b>（{status}）\n级别：{level} · 佣金比例：{rate}%"
            "\n推荐用户：{referrals}"
        ),
        "agent.status.pending": "待审核",
        "agent.status.active": "正常",
        "agent.status.suspended": "已暂停",
        "agent.status.terminated": "已终止",
        "agent.earning_line": "\n{status}：{amount}（{count} 笔）",
        "agent.earning.pending": "待结算",
        "agent.earning.settled": "已结算",
        "agent.earning.cancelled": "已取消",
        "agent.no_earnings": "\n暂无佣金。",
        "agent.available": "\n\n可提现佣金：{trx} · {usdt}\n已提现：{withdrawn_trx}",
        "agent.withdrawal_line": "\n提现 {amount}：{status}",
        "agent.withdrawal.pending_review": "审核中",
        "agent.withdrawal.approved": "付款中",
        "agent.withdrawal.paid": "已到账",
        "agent.withdrawal.rejected": "已拒绝",
        "agent.withdraw_hint": "\n\n提现：/agent withdraw TRX 金额 T地址",
        "agent.apply_usage": "请在 /agent apply 后写上您的业务介绍与联系方式。",
        "agent.applied": "✅ 申请已提交，审核后会通知您。",
        "agent.withdraw_usage": "用法：/agent withdraw TRX|USDT 金额 T地址",
        "agent.bots": "🤖 <b>您的机器人</b>",
        "agent.no_bots": "🤖 您还没有自己的机器人。",
        "agent.bot_line": "\n@{username}：{status} · 加价 {markup}%（允许 {low}%–{high}%）",
        "agent.bot.pending": "待审核",
        "agent.bot.active": "运行中",
        "agent.bot.inactive": "已停用",
        "agent.bot_usage": (
            "添加机器人：/agent bot add 令牌 @用户名 [加价%]\n"
            "设置加价：/agent bot markup @用户名 百分比"
        ),
        "agent.bot_registered": "✅ 机器人 @{username} 已提交，运营审核通过后即开始运行。",
        "agent.bot_markup_set": "✅ 加价已更新。",
        "agent.withdraw_requested": "✅ 提现 {amount} 已受理（到账 {payout}）：{status}",
        "error.APPLICATION_PENDING": "您已有一份申请在审核中。",
        "error.ALREADY_AGENT": "您已经是代理。",
        "error.AGENT_NOT_FOUND": "您还不是代理：发送 /agent apply 申请。",
        "error.AGENT_NOT_ACTIVE": "您的代理账户已暂停，无法提现。",
        "error.WITHDRAWAL_REFUSED": "提现被拒绝：金额低于最低额、不足以支付手续费，或地址无效。",
        "error.INSUFFICIENT_COMMISSION": "可提现佣金不足。",
        "balance.chain_unavailable": (
            "\n\n📮 <code>{address}</code>：链上余额暂时无法查询，请稍后再试。"
        ),
        "orders.empty": "📋 您还没有订单。点 /menu 开始租用能量。",
        "orders.title": "📋 <b>我的订单</b>（第 {page}/{pages} 页，共 {total} 笔）",
        "orders.item": (
            "\n\n<code>{order_id}</code> · {what}\n"
            "{status} · {amount} {currency} · {created}{extra}"
        ),
        "orders.tx": "\n付款：{tx}",
        "orders.delegate_tx": "\n委托：{tx}",
        "status.pending": "⏳ 待付款",
        "status.paid": "💰 已付款",
        "status.delegating": "⚙️ 委托中",
        "status.active": "⚡ 租用中",
        "status.reclaiming": "↩️ 回收中",
        "status.completed": "✅ 已完成",
        "status.underpaid": "⚠️ 付款不足",
        "status.expired": "⌛ 已超时",
        "status.cancelled": "✖️ 已取消",
        "status.failed": "❌ 失败",
        "status.refunding": "↩️ 退款中",
        "status.refunded": "↩️ 已退款",
        "flash.intro": (
            "⚡ <b>能量闪租</b>\n"
            "单价：<b>{price} TRX</b> / 笔（每笔 {energy} 能量，{duration}后自动回收）\n"
            "一次最多 {max} 笔；低于 {min} TRX 的转账不处理。\n\n"
            "<b>方式一：直接转账</b>\n向下方地址转 TRX，能量自动委托给<b>付款地址</b>：\n"
            "<code>{address}</code>\n例：转 {price} TRX = 1 笔，转 {price2} TRX = 2 笔。\n\n"
            "<b>方式二：为指定地址租用</b>\n从交易所付款或为他人租用时使用，能量发到您指定的地址。"
        ),
        "flash.intro_order": (
            "⚡ <b>能量闪租</b>\n"
            "单价：<b>{price} TRX</b> / 笔（每笔 {energy} 能量，{duration}后自动回收）\n"
            "一次最多 {max} 笔。\n\n"
            "点击下方「为指定地址租用」并发送接收能量的地址：订单会给出您的专属付款金额和地址，"
            "按该金额付款即可（2 笔：{price2} TRX 加同样尾数）。"
        ),
        "flash.qr_caption": "闪租收款地址（点按复制）：\n<code>{address}</code>",
        "flash.ask_address": "🎯 请发送接收能量的 TRON 地址（T 开头，34 位）。\n/cancel 取消",
        "flash.invalid_address": (
            "❌ 这不是有效的 TRON 地址：<code>{text}</code>\n"
            "TRON 地址以 T 开头，共 34 位。请重新发送，或 /cancel 取消。"
        ),
        "flash.bad_checksum": (
            "❌ 地址校验失败：<code>{text}</code>\n"
            "格式看起来正确，但校验和不符——可能有字符输错。请复制粘贴完整地址。"
        ),
        "flash.confirm": (
            "请确认订单：\n接收地址：<code>{recipient}</code>\n"
            "单价：{price} TRX / 笔（最多 {max} 笔）\n确认后将生成您的专属付款金额。"
        ),
        "flash.unavailable": "闪租服务暂时不可用，请稍后再试。",
        "order.card.head": "🧾 <b>订单</b> <code>{order_id}</code> · {what}",
        "order.card.status": "\n状态：{status}",
        "order.card.recipient": "\n接收地址：<code>{recipient}</code>",
        "order.what.flash": "⚡ 能量闪租",
        "order.what.top_up": "💳 余额充值",
        "order.what.package": "📦 {name}（{energy} 能量 · {duration}）",
        "order.card.pay": (
            "\n\n请转账 <b>{amount} {currency}</b> 到：\n<code>{address}</code>\n"
            "⚠️ 金额须<b>完全一致</b>（含尾数 {tail}），用于识别您的付款。\n截止时间：{deadline}"
        ),
        "order.card.delivered": "\n\n⚡ 能量：{energy}（{count}）",
        "order.card.energy": "\n\n⚡ 能量：{energy}",
        "order.card.activation": (
            "\n🆕 接收地址尚未激活：金额已含激活费 {fee} TRX，到账后先为其激活再委托能量。"
        ),
        "order.not_found": "找不到该订单。",
        "order.not_paid_yet": "尚未收到付款，到账后会自动通知您。",
        "order.status_now": "订单状态：{status}",
        "order.cancelled": "订单已取消。",
        "order.not_cancellable": "订单已付款或已关闭，无法取消。",
        "stale": "此按钮已失效，请发送 /menu 重新开始。",
        "unknown_command": "未知命令 {command}。\n可用命令：/start /menu /help /balance /orders",
        "unknown_text": "没看懂这条消息 🤔 发送 /menu 打开菜单。",
        "non_text": "请发送文字消息，或点 /menu 打开菜单。",
        "wrong_state": "请先点上方按钮完成当前步骤，或发送 /cancel 取消。",
        "cancelled": "已取消当前操作。",
        "nothing_to_cancel": "当前没有进行中的操作。",
        "maintenance": "🛠 机器人维护中，请稍后再来。",
        "rate_limited": "操作太频繁，请稍后再试。",
        "error": "😵 出错了，请稍后再试。如果问题持续，请联系客服。",
        "lang.choose": "请选择语言 / Choose your language:",
        "lang.set": "✅ 已切换为中文。",
        "packages.unavailable": "该套餐已下架，请发送 /menu 查看当前套餐。",
        "btn.package": "📦 {name}",
        "btn.custom_quantity": "✏️ 自定义数量",
        "btn.last_address": "📮 使用上次地址 {address}",
        "btn.pay_transfer": "💸 {currency} 转账支付",
        "btn.pay_balance": "💰 余额支付（{currency} 余额 {balance}）",
        "btn.top_up": "➕ 充值",
        "packages.title": "\n\n📦 <b>能量套餐</b>",
        "packages.item": "\n• {name}：{energy} 能量 · {duration} · {trx} TRX / {usdt} USDT",
        "package.detail": (
            "📦 <b>{name}</b>\n{energy} 能量，租用 {duration}\n"
            "单价：{trx} TRX / {usdt} USDT\n\n请选择数量（{min}–{max}）："
        ),
        "package.ask_quantity": "✏️ 请发送购买数量（{min}–{max} 的整数）。\n/cancel 取消",
        "package.bad_quantity": (
            "❌ <code>{text}</code> 不是有效数量，请发送 {min}–{max} 的整数，或 /cancel 取消。"
        ),
        "package.ask_address": (
            "🎯 请发送接收 {energy} 能量的 TRON 地址（T 开头，34 位）。\n/cancel 取消"
        ),
        "package.confirm": (
            "请确认订单：\n📦 {name} · 共 {energy} 能量 · {duration}\n"
            "接收地址：<code>{recipient}</code>"
        ),
        "package.confirm.price": "\n\n<b>{currency}</b>：单价 {unit} × {quantity} = {subtotal}",
        "package.confirm.discount": "\n优惠：-{discount}",
        "package.confirm.activation": "\n激活费：{fee} TRX",
        "package.confirm.total": "\n合计：<b>{total} {currency}</b>",
        "package.confirm.activation_note": (
            "\n\n🆕 接收地址尚未激活：付款后先为其激活（激活费 {fee} TRX），再委托能量。"
        ),
        "package.balance_short": "{currency} 余额 {balance} 不足 {total}，请先充值或选择转账支付。",
        "package.paid": "✅ 已用余额支付。",
        "btn.counts": "🔁 笔数套餐",
        "btn.count_pause": "⏸ 暂停套餐",
        "btn.count_resume": "▶️ 恢复套餐",
        "btn.auto": "⚡ 自动补能",
        "btn.auto_start": "⚡ 开通自动补能",
        "btn.auto_stop": "⛔ 停止自动补能",
        "btn.auto_threshold": "能量低于 {energy} 时补充",
        "auto.intro": (
            "⚡ <b>自动补能</b>\n为您的地址保持能量：每笔 USDT 转账后能量低于您设定的阈值时，"
            "下一个区块自动补足，每补一笔的能量从余额扣除 {price} {currency}。开通时先支付第一笔；"
            "余额不足时自动停止并通知您。"
        ),
        "auto.not_offered": "⚡ 暂未开放自动补能。",
        "auto.ask_address": "🎯 请发送需要保持能量的 TRON 地址（T 开头，34 位）：\n/cancel 取消",
        "auto.ask_threshold": "地址：<code>{address}</code>\n能量低于多少时补充？",
        "auto.card": (
            "⚡ <b>自动补能</b> · {state}\n地址：<code>{address}</code>\n阈值：{threshold} 能量\n"
            "价格：每笔 {price} {currency}\n已补能 {top_ups} 次 · 共扣除 {billed} {currency}"
        ),
        "auto.state.starting": "正在开通…",
        "auto.state.active": "能量保持中",
        "auto.state.stopped": "已停止",
        "auto.started": "⚡ 已开通：第一笔已从余额支付，能量将在下一个区块到账。",
        "auto.stopped": "⛔ 已停止：能量将被收回，不再扣费。",
        "error.AUTO_TOP_UP_NOT_OFFERED": "暂未开放自动补能。",
        "error.AUTO_TOP_UP_NOT_ACTIVE": (
            "该自动补能未在运行（尚未开通、已停止，或正在补能：请几秒后再试）。"
        ),
        "error.AUTO_TOP_UP_NOT_FOUND": "找不到该自动补能。",
        "error.ADDRESS_ALREADY_FOLLOWED": "该地址已有笔数套餐或自动补能。",
        "counts.title": (
            "🔁 <b>笔数套餐</b>\n按笔购买 USDT 转账所需能量：地址每转出一笔，"
            "下一个区块自动补足下一笔的能量。闲置一天未使用会扣除闲置费（暂停期间不扣），"
            "长期未使用套餐将结束。"
        ),
        "counts.item": "\n• {name}：{counts} 笔 · {trx} TRX / {usdt} USDT",
        "counts.empty": "暂无在售的笔数套餐。",
        "count.detail": (
            "🔁 <b>{name}</b>\n{counts} 笔 USDT 转账的能量（每笔 {energy} 能量，用后自动补充）\n"
            "有效期：{duration}\n价格：{trx} TRX / {usdt} USDT"
        ),
        "count.ask_address": (
            "🎯 请发送使用套餐的 TRON 地址（T 开头，34 位）：从该地址转出的 USDT 计为使用。"
            "\n/cancel 取消"
        ),
        "count.confirm": (
            "请确认订单：\n🔁 {name} · {counts} 笔 · 有效期 {duration}\n"
            "地址：<code>{recipient}</code>"
        ),
        "order.what.count": "🔁 {name}（{counts} 笔）",
        "order.card.count": "\n\n🔁 已用 <b>{used}</b> / {total}，剩余 {remaining} · {state}",
        "count.state.ready": "能量就绪",
        "count.state.paused": "已暂停",
        "count.state.pausing": "正在暂停…",
        "count.state.resuming": "正在恢复…",
        "count.paused": "⏸ 已暂停：能量将被回收，暂停期间不扣闲置费。",
        "count.resumed": "▶️ 已恢复：能量将在下一个区块重新委托。",
        "error.COUNT_PACKAGE_BUSY": (
            "正在为上一笔转账补充能量，或上一次操作尚未完成，请几秒后再试。"
        ),
        "error.COUNT_PACKAGE_NOT_ACTIVE": "该套餐尚未生效或已经结束。",
        "error.COUNT_PACKAGE_NOT_FOUND": "找不到该笔数套餐。",
        "payment.qr_caption": "收款地址（点按复制）：\n<code>{address}</code>",
        "top_up.choose_currency": "➕ <b>充值</b>\n请选择充值币种：",
        "top_up.choose_amount": "➕ <b>充值 {currency}</b>\n请选择金额：",
        "btn.custom_amount": "✏️ 其他金额",
        "top_up.ask_amount": (
            "✏️ 请发送充值金额（{min}–{max} {currency}，最多 6 位小数）。\n/cancel 取消"
        ),
        "top_up.bad_amount": (
            "❌ <code>{text}</code> 不是有效金额，请发送 {min}–{max} {currency}，或 /cancel 取消。"
        ),
        "error.INVALID_ADDRESS": "接收地址无效。",
        "error.ORDER_NOT_FOUND": "找不到该订单。",
        "error.API_KEY_NOT_FOUND": "找不到该 API 密钥（发送 /apikeys 查看您的密钥）。",
        "error.API_KEY_REVOKED": "该 API 密钥已吊销，无法修改：请创建新密钥。",
        "error.INVALID_IP_ALLOWLIST": (
            "IP 白名单无效：请填写 IP 地址或网段（如 203.0.113.7、10.0.0.0/8）。"
        ),
        "error.INVALID_CALLBACK_URL": "回调地址无效：须为 http(s)://主机/…，不含用户名密码。",
        "error.ORDER_NOT_CANCELLABLE": "订单已付款或已关闭，无法取消。",
        "error.FLASH_DISABLED": "闪租服务已暂停。",
        "error.TOO_MANY_OPEN_ORDERS": "当前下单人数过多，请稍后再试。",
        "error.SERVICE_UNAVAILABLE": "服务暂时不可用，请稍后再试。",
        "error.INSUFFICIENT_BALANCE": "余额不足，请先充值或选择转账支付。",
        "error.PACKAGE_NOT_FOUND": "该套餐已下架，请发送 /menu 查看当前套餐。",
        "error.USER_BLOCKED": (
            "⛔ 您的账户已被停用，无法下单、充值或用余额支付。如有疑问请联系客服。"
        ),
    },
    "en": {
        "welcome": (
            "👋 Welcome to <b>{bot_name}</b>!\n"
            "Rent TRON energy here and your USDT transfers burn almost no TRX.\nChoose below:"
        ),
        "referral.bound": "🤝 Referrer linked.",
        "menu.title": "Choose:",
        "btn.flash": "⚡ Energy flash rental",
        "btn.orders": "📋 My orders",
        "btn.balance": "💰 Balance",
        "btn.help": "❓ Help",
        "btn.language": "🌐 Language / 语言",
        "btn.rent_for_address": "🎯 Rent for an address",
        "btn.confirm": "✅ Confirm order",
        "btn.abort": "✖️ Cancel",
        "btn.check_payment": "✅ I have paid",
        "btn.cancel_order": "❌ Cancel order",
        "btn.my_order": "📄 My order",
        "btn.prev": "⬅️ Previous",
        "btn.next": "Next ➡️",
        "btn.menu": "🏠 Menu",
        "apikey.created": (
            "🔑 <b>API key created</b> ({name})\n"
            "Key ID: <code>{key_id}</code>\n"
            "Secret: <code>{secret}</code>\n\n"
            "⚠️ The secret is shown only this once: store it now, then delete this message. "
            "Signing is described in docs/merchant-api.md."
        ),
        "apikey.none": "🔑 No API keys yet. Send /apikey to create one.",
        "apikey.list.title": "🔑 <b>API keys</b>",
        "apikey.list.item": (
            "\n<code>{key_id}</code> · {name} · {status} · last used {used}\n"
            "   IP: {ips} · callback: {url}"
        ),
        "apikey.list.howto": (
            "\n\nIP allowlist: /keyips &lt;key id&gt; &lt;address or network ...&gt; "
            "(any = no restriction)\n"
            "Callback URL: /keyurl &lt;key id&gt; &lt;https://...&gt; (none = no URL)"
        ),
        "apikey.any_ip": "any",
        "apikey.ips.usage": (
            "Usage: /keyips &lt;key id&gt; &lt;address or network&gt; [more ...], e.g. "
            "<code>/keyips mk_... 203.0.113.7 10.0.0.0/8</code>; <code>any</code> removes the "
            "restriction"
        ),
        "apikey.url.usage": (
            "Usage: /keyurl &lt;key id&gt; &lt;https://...&gt;; <code>none</code> removes the URL"
        ),
        "apikey.set.ips": "✅ IP allowlist of key <code>{key_id}</code>: {value}",
        "apikey.set.url": "✅ Callback URL of key <code>{key_id}</code>: {value}",
        "apikey.revoke.usage": "Usage: /revokekey &lt;key id&gt;",
        "apikey.revoked": "🔒 Key <code>{key_id}</code> revoked.",
        "apikey.unavailable": "API keys are not available right now, try again later.",
        "help": (
            "❓ <b>Help</b>\n"
            "/start start and register\n/menu main menu\n/balance balances\n/orders order history\n"
            "/cancel cancel the current step\n/help this help\n\n"
            "Energy packages: pick one in /menu, a quantity and a recipient; pay in TRX, USDT or "
            "from your balance.\n"
            "Flash rental: send TRX to the flash address and the energy is delegated to the "
            "paying address; or tap “Rent for an address” to send it elsewhere."
        ),
        "cmd.start": "Start / register",
        "cmd.menu": "Main menu",
        "cmd.help": "Help",
        "cmd.balance": "Balance",
        "cmd.orders": "Order history",
        "balance.platform": "💰 <b>Platform balance</b>\nTRX: {trx}\nUSDT: {usdt}",
        "balance.address": (
            "\n\n📮 Address <code>{address}</code>\nTRX: {trx}\nUSDT: {usdt}\n"
            "Energy available: {energy}"
        ),
        "balance.no_address": "\n\nNo TRON address bound yet (it is bound by your first order).",
        "balance.ledger.title": "\n\n🧾 <b>Recent balance changes</b>",
        "balance.ledger.empty": "\n\n🧾 No balance changes yet.",
        "balance.ledger.item": "\n{amount} {currency} · {cause} · {created}",
        "ledger.cause.top_up": "Top-up",
        "ledger.cause.order_payment": "Order payment",
        "ledger.cause.order_refund": "Order refund",
        "ledger.cause.commission": "Commission",
        "ledger.cause.withdrawal": "Withdrawal",
        "ledger.cause.adjustment": "Adjustment",
        "ledger.cause.idle_fee": "Idle fee",
        "ledger.cause.withdrawal_return": "Withdrawal returned",
        "agent.link": "🤝 <b>Referrals</b>\nYour code: <code>{code}</code>\nYour link: {link}",
        "agent.not_agent": "\n\nAgents earn commission: send /agent apply with your business and "
        "contact details.",
        "agent.application_pending": "\n\n⏳ Your agent application is under review.",
        "agent.summary": "\n\n👔 <b>Agent</b> ({status})\nLevel: {level} · commission: {rate}%"
        "\nReferred users: {referrals}",
        "agent.status.pending": "pending",
        "agent.status.active": "active",
        "agent.status.suspended": "suspended",
        "agent.status.terminated": "terminated",
        "agent.earning_line": "\n{status}: {amount} ({count})",
        "agent.earning.pending": "Pending",
        "agent.earning.settled": "Settled",
        "agent.earning.cancelled": "Cancelled",
        "agent.no_earnings": "\nNo commission yet.",
        "agent.available": (
            "\n\nWithdrawable commission: {trx} · {usdt}\nWithdrawn: {withdrawn_trx}"
        ),
        "agent.withdrawal_line": "\nWithdrawal {amount}: {status}",
        "agent.withdrawal.pending_review": "under review",
        "agent.withdrawal.approved": "being paid",
        "agent.withdrawal.paid": "paid",
        "agent.withdrawal.rejected": "rejected",
        "agent.withdraw_hint": "\n\nWithdraw: /agent withdraw TRX amount T-address",
        "agent.apply_usage": "Write your business and contact details after /agent apply.",
        "agent.applied": "✅ Application sent; you will hear from us after the review.",
        "agent.withdraw_usage": "Usage: /agent withdraw TRX|USDT amount T-address",
        "agent.bots": "🤖 <b>Your bots</b>",
        "agent.no_bots": "🤖 You have no bot of your own yet.",
        "agent.bot_line": "\n@{username}: {status} · markup {markup}% (allowed {low}%–{high}%)",
        "agent.bot.pending": "awaiting approval",
        "agent.bot.active": "running",
        "agent.bot.inactive": "disabled",
        "agent.bot_usage": (
            "Add a bot: /agent bot add token @username [markup %]\n"
            "Set its markup: /agent bot markup @username percent"
        ),
        "agent.bot_registered": "✅ Bot @{username} registered; it starts once an operator "
        "approves it.",
        "agent.bot_markup_set": "✅ Markup updated.",
        "agent.withdraw_requested": "✅ Withdrawal of {amount} accepted (you receive {payout}): "
        "{status}",
        "error.APPLICATION_PENDING": "You already have an application under review.",
        "error.ALREADY_AGENT": "You are an agent already.",
        "error.AGENT_NOT_FOUND": "You are not an agent yet: send /agent apply.",
        "error.AGENT_NOT_ACTIVE": "Your agent account is suspended: no withdrawals.",
        "error.WITHDRAWAL_REFUSED": "Withdrawal refused: below the minimum, not more than the fee, "
        "or not a TRON address.",
        "error.INSUFFICIENT_COMMISSION": "Your withdrawable commission is too low.",
        "balance.chain_unavailable": (
            "\n\n📮 <code>{address}</code>: on-chain balance unavailable, try again later."
        ),
        "orders.empty": "📋 You have no orders yet. Tap /menu to rent energy.",
        "orders.title": "📋 <b>My orders</b> (page {page}/{pages}, {total} in all)",
        "orders.item": (
            "\n\n<code>{order_id}</code> · {what}\n"
            "{status} · {amount} {currency} · {created}{extra}"
        ),
        "orders.tx": "\nPayment: {tx}",
        "orders.delegate_tx": "\nDelegation: {tx}",
        "status.pending": "⏳ awaiting payment",
        "status.paid": "💰 paid",
        "status.delegating": "⚙️ delegating",
        "status.active": "⚡ active",
        "status.reclaiming": "↩️ reclaiming",
        "status.completed": "✅ completed",
        "status.underpaid": "⚠️ underpaid",
        "status.expired": "⌛ expired",
        "status.cancelled": "✖️ cancelled",
        "status.failed": "❌ failed",
        "status.refunding": "↩️ refunding",
        "status.refunded": "↩️ refunded",
        "flash.intro": (
            "⚡ <b>Energy flash rental</b>\n"
            "Price: <b>{price} TRX</b> per transfer ({energy} energy each, reclaimed after "
            "{duration})\nUp to {max} transfers at once; payments below {min} TRX are ignored.\n\n"
            "<b>1. Just pay</b>\nSend TRX to this address and the energy goes to the "
            "<b>paying address</b>:\n<code>{address}</code>\n"
            "E.g. {price} TRX = 1 transfer, {price2} TRX = 2 transfers.\n\n"
            "<b>2. Rent for an address</b>\nPaying from an exchange or for someone else? "
            "The energy goes to the address you name."
        ),
        "flash.intro_order": (
            "⚡ <b>Energy flash rental</b>\n"
            "Price: <b>{price} TRX</b> per transfer ({energy} energy each, reclaimed after "
            "{duration})\nUp to {max} transfers at once.\n\n"
            "Press <b>Rent for an address</b> and send the address that should receive the "
            "energy: the order gives you the exact amount to pay and where (2 transfers: "
            "{price2} TRX plus the same tail)."
        ),
        "flash.qr_caption": "Flash payment address (tap to copy):\n<code>{address}</code>",
        "flash.ask_address": (
            "🎯 Send the TRON address that should receive the energy (starts with T, 34 "
            "characters).\n/cancel to stop"
        ),
        "flash.invalid_address": (
            "❌ That is not a TRON address: <code>{text}</code>\n"
            "A TRON address starts with T and has 34 characters. Send it again or /cancel."
        ),
        "flash.bad_checksum": (
            "❌ Checksum mismatch: <code>{text}</code>\n"
            "It looks like an address but a character is wrong. Copy and paste the full address."
        ),
        "flash.confirm": (
            "Please confirm:\nRecipient: <code>{recipient}</code>\n"
            "Price: {price} TRX per transfer (up to {max})\n"
            "Your exact payment amount is created when you confirm."
        ),
        "flash.unavailable": "Flash rental is unavailable right now, please try later.",
        "order.card.head": "🧾 <b>Order</b> <code>{order_id}</code> · {what}",
        "order.card.status": "\nStatus: {status}",
        "order.card.recipient": "\nRecipient: <code>{recipient}</code>",
        "order.what.flash": "⚡ Flash rental",
        "order.what.top_up": "💳 Balance top-up",
        "order.what.package": "📦 {name} ({energy} energy · {duration})",
        "order.card.pay": (
            "\n\nSend <b>{amount} {currency}</b> to:\n<code>{address}</code>\n"
            "⚠️ The amount must match <b>exactly</b> (tail {tail}): it identifies your payment.\n"
            "Pay before: {deadline}"
        ),
        "order.card.delivered": "\n\n⚡ Energy: {energy} ({count})",
        "order.card.energy": "\n\n⚡ Energy: {energy}",
        "order.card.activation": (
            "\n🆕 The recipient is not activated yet: the amount includes its {fee} TRX "
            "activation fee; it is activated first, then the energy is delegated."
        ),
        "order.not_found": "Order not found.",
        "order.not_paid_yet": "No payment yet - you will be notified as soon as it arrives.",
        "order.status_now": "Order status: {status}",
        "order.cancelled": "Order cancelled.",
        "order.not_cancellable": "The order is paid or closed and cannot be cancelled.",
        "stale": "This button has expired. Send /menu to start again.",
        "unknown_command": (
            "Unknown command {command}.\nCommands: /start /menu /help /balance /orders"
        ),
        "unknown_text": "I did not get that 🤔 Send /menu for the menu.",
        "non_text": "Please send text, or tap /menu.",
        "wrong_state": "Please finish the step above with its buttons, or send /cancel.",
        "cancelled": "Cancelled.",
        "nothing_to_cancel": "Nothing to cancel.",
        "maintenance": "🛠 The bot is under maintenance. Please come back later.",
        "rate_limited": "Too many requests, please slow down.",
        "error": "😵 Something went wrong. Please try again; contact support if it persists.",
        "lang.choose": "Choose your language / 请选择语言:",
        "lang.set": "✅ Language set to English.",
        "packages.unavailable": "This package is no longer sold. Send /menu for the packages.",
        "btn.package": "📦 {name}",
        "btn.custom_quantity": "✏️ Other quantity",
        "btn.last_address": "📮 Use my last address {address}",
        "btn.pay_transfer": "💸 Pay by {currency} transfer",
        "btn.pay_balance": "💰 Pay from balance ({balance} {currency})",
        "btn.top_up": "➕ Top up",
        "packages.title": "\n\n📦 <b>Energy packages</b>",
        "packages.item": "\n• {name}: {energy} energy · {duration} · {trx} TRX / {usdt} USDT",
        "package.detail": (
            "📦 <b>{name}</b>\n{energy} energy for {duration}\n"
            "Price: {trx} TRX / {usdt} USDT each\n\nChoose the quantity ({min}-{max}):"
        ),
        "package.ask_quantity": "✏️ Send the quantity, a whole number from {min} to {max}.\n/cancel",
        "package.bad_quantity": (
            "❌ <code>{text}</code> is not a quantity from {min} to {max}. "
            "Send it again or /cancel."
        ),
        "package.ask_address": (
            "🎯 Send the TRON address that should receive the {energy} energy (starts with T, 34 "
            "characters).\n/cancel to stop"
        ),
        "package.confirm": (
            "Please confirm:\n📦 {name} · {energy} energy in all · {duration}\n"
            "Recipient: <code>{recipient}</code>"
        ),
        "package.confirm.price": "\n\n<b>{currency}</b>: {unit} × {quantity} = {subtotal}",
        "package.confirm.discount": "\nDiscount: -{discount}",
        "package.confirm.activation": "\nActivation fee: {fee} TRX",
        "package.confirm.total": "\nTotal: <b>{total} {currency}</b>",
        "package.confirm.activation_note": (
            "\n\n🆕 The recipient has no account on chain yet: it is activated first (fee {fee} "
            "TRX), then the energy is delegated."
        ),
        "package.balance_short": (
            "Your {currency} balance ({balance}) does not cover {total}. Top up or pay by transfer."
        ),
        "package.paid": "✅ Paid from your balance.",
        "btn.counts": "🔁 Transfer packages",
        "btn.count_pause": "⏸ Pause package",
        "btn.count_resume": "▶️ Resume package",
        "btn.auto": "⚡ Auto top-up",
        "btn.auto_start": "⚡ Set up auto top-up",
        "btn.auto_stop": "⛔ Stop auto top-up",
        "btn.auto_threshold": "Top up below {energy} energy",
        "auto.intro": (
            "⚡ <b>Auto top-up</b>\nKeep energy on your address: when a USDT transfer leaves "
            "it below your threshold, it is topped up in the next block and each transfer's "
            "worth costs {price} {currency} from your balance. The first transfer's worth is "
            "paid when you set it up; it stops with a notice when your balance runs out."
        ),
        "auto.not_offered": "⚡ Auto top-up is not offered yet.",
        "auto.ask_address": (
            "🎯 Send the TRON address to keep topped up (starts with T, 34 characters).\n"
            "/cancel to cancel"
        ),
        "auto.ask_threshold": (
            "Address: <code>{address}</code>\nTop it up when its energy falls below:"
        ),
        "auto.card": (
            "⚡ <b>Auto top-up</b> · {state}\nAddress: <code>{address}</code>\n"
            "Threshold: {threshold} energy\nPrice: {price} {currency} per transfer\n"
            "Top-ups: {top_ups} · billed {billed} {currency}"
        ),
        "auto.state.starting": "starting…",
        "auto.state.active": "energy kept",
        "auto.state.stopped": "stopped",
        "auto.started": "⚡ Set up: the first transfer's worth is paid, energy in the next block.",
        "auto.stopped": "⛔ Stopped: our energy is taken back, nothing more is billed.",
        "error.AUTO_TOP_UP_NOT_OFFERED": "Auto top-up is not offered yet.",
        "error.AUTO_TOP_UP_NOT_ACTIVE": (
            "This auto top-up is not running (not started yet, stopped, or a top-up is on its "
            "way: try again in a few seconds)."
        ),
        "error.AUTO_TOP_UP_NOT_FOUND": "Auto top-up not found.",
        "error.ADDRESS_ALREADY_FOLLOWED": (
            "This address already has a transfer package or an auto top-up."
        ),
        "counts.title": (
            "🔁 <b>Transfer packages</b>\nEnergy for a number of USDT transfers: after each "
            "transfer from your address the next one's energy is there in the next block. A day "
            "with no use costs an idle fee (none while paused); a package unused for long ends."
        ),
        "counts.item": "\n• {name}: {counts} transfers · {trx} TRX / {usdt} USDT",
        "counts.empty": "No transfer packages are for sale right now.",
        "count.detail": (
            "🔁 <b>{name}</b>\nEnergy for {counts} USDT transfers ({energy} energy each, topped "
            "up after every transfer)\nValid for: {duration}\nPrice: {trx} TRX / {usdt} USDT"
        ),
        "count.ask_address": (
            "🎯 Send the TRON address that will use the package (starts with T, 34 characters): "
            "its USDT transfers are counted.\n/cancel to stop"
        ),
        "count.confirm": (
            "Please confirm:\n🔁 {name} · {counts} transfers · valid for {duration}\n"
            "Address: <code>{recipient}</code>"
        ),
        "order.what.count": "🔁 {name} ({counts} transfers)",
        "order.card.count": "\n\n🔁 <b>{used}</b> of {total} used, {remaining} left · {state}",
        "count.state.ready": "energy ready",
        "count.state.paused": "paused",
        "count.state.pausing": "pausing…",
        "count.state.resuming": "resuming…",
        "count.paused": "⏸ Paused: the energy is taken back, no idle fee while paused.",
        "count.resumed": "▶️ Resumed: the energy is delegated again in the next block.",
        "error.COUNT_PACKAGE_BUSY": (
            "A transfer is being topped up or the last change is still on its way: try again in "
            "a few seconds."
        ),
        "error.COUNT_PACKAGE_NOT_ACTIVE": (
            "This package is not active (not delivered yet, or over)."
        ),
        "error.COUNT_PACKAGE_NOT_FOUND": "This transfer package was not found.",
        "payment.qr_caption": "Payment address (tap to copy):\n<code>{address}</code>",
        "top_up.choose_currency": "➕ <b>Top up</b>\nChoose the currency:",
        "top_up.choose_amount": "➕ <b>Top up {currency}</b>\nChoose the amount:",
        "btn.custom_amount": "✏️ Other amount",
        "top_up.ask_amount": (
            "✏️ Send the amount, {min} to {max} {currency} (up to 6 decimals).\n/cancel to stop"
        ),
        "top_up.bad_amount": (
            "❌ <code>{text}</code> is not an amount from {min} to {max} {currency}. "
            "Send it again or /cancel."
        ),
        "error.INVALID_ADDRESS": "The recipient address is not valid.",
        "error.ORDER_NOT_FOUND": "Order not found.",
        "error.API_KEY_NOT_FOUND": "API key not found (send /apikeys to see yours).",
        "error.API_KEY_REVOKED": "That API key is revoked and cannot change: create a new one.",
        "error.INVALID_IP_ALLOWLIST": (
            "Invalid IP allowlist: give IP addresses or networks (203.0.113.7, 10.0.0.0/8)."
        ),
        "error.INVALID_CALLBACK_URL": (
            "Invalid callback URL: it must be http(s)://host/... without credentials."
        ),
        "error.ORDER_NOT_CANCELLABLE": "The order is paid or closed and cannot be cancelled.",
        "error.FLASH_DISABLED": "Flash rental is paused.",
        "error.TOO_MANY_OPEN_ORDERS": "Too many open orders right now, try again shortly.",
        "error.SERVICE_UNAVAILABLE": "Service temporarily unavailable, try again later.",
        "error.INSUFFICIENT_BALANCE": "Your balance is too low: top up or pay by transfer.",
        "error.PACKAGE_NOT_FOUND": "This package is no longer sold. Send /menu for the packages.",
        "error.USER_BLOCKED": "⛔ Your account is blocked: you cannot order, top up or pay from "
        "your balance. Please contact support.",
    },
}
