// Marks the page as scripted, so a browser test can see that same-origin scripts ran.
document.documentElement.dataset.ready = 'true';
