// Everything this page needs is in it: no request leaves it (see the Content-Security-Policy).
(function () {
  var box = document.getElementById("only-failures");
  if (box) {
    box.addEventListener("change", function () {
      document.body.classList.toggle("only-failures", box.checked);
    });
  }
})();
