// On the node's own pages (templates/base.html, for those who screen): send
// the records the offline interview sealed and queued on this tablet as soon
// as the officer is back on any page of the node, and say so. Without this,
// they would go only while the offline interview is open, and an officer
// back online on the node's pages would leave them on the tablet.
//
// The notice's words are the page's (rendered in the officer's language);
// this script only picks which one shows. It opens no key: the queue holds
// sealed envelopes, and how many there are is no secret.

import { queueSender } from "./queue.js";
import { queued } from "./store.js";

const notice = document.getElementById("waiting-records");

/** Show the notice's part for this moment: "sending", "sent" or "waiting". */
function tell(moment) {
  for (const part of notice.querySelectorAll("[data-when]")) part.hidden = part.dataset.when !== moment;
  notice.dataset.state = moment;
  notice.hidden = false;
}

async function sendWaiting() {
  // Only a tablet that has used the offline interview has its database: none is made here.
  const known = indexedDB.databases ? (await indexedDB.databases()).map((d) => d.name) : null;
  if (known && !known.includes("intake-offline")) return;
  if (!(await queued()).length) return;
  tell("sending");
  const { envelopes, page } = notice.dataset;
  await queueSender({ envelopes, page }, () => {}).send();
  tell((await queued()).length ? "waiting" : "sent");
}

if (notice) sendWaiting().catch(() => notice && tell("waiting"));
