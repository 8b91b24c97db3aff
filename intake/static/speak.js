// "Read aloud" for people who cannot read: speak the question in the person's
// language with the browser's own speech synthesis, only where the device has
// a voice for that language (otherwise the button stays hidden). Nothing is
// sent anywhere: synthesis runs on the device.
(function () {
  "use strict";
  if (!("speechSynthesis" in window)) { return; }
  function voiceFor(lang) {
    var wanted = lang.toLowerCase().split("-")[0];
    return window.speechSynthesis.getVoices().filter(function (voice) {
      return voice.lang.toLowerCase().split(/[-_]/)[0] === wanted;
    })[0];
  }
  function setUp() {
    document.querySelectorAll("button.speak").forEach(function (button) {
      var voice = voiceFor(button.getAttribute("data-lang"));
      button.hidden = !voice;
      if (!voice || button.dataset.ready) { return; }
      button.dataset.ready = "1";
      button.addEventListener("click", function () {
        var text = document.getElementById(button.getAttribute("data-for")).textContent;
        var utterance = new SpeechSynthesisUtterance(text);
        utterance.voice = voice;
        utterance.lang = voice.lang;
        window.speechSynthesis.cancel();
        window.speechSynthesis.speak(utterance);
      });
    });
  }
  setUp();
  window.speechSynthesis.addEventListener("voiceschanged", setUp);
})();
