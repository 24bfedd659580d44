"""Reading the weeknote: takes the HTML of the weeknote page and gives its editorial and its
sections of links (`extract.extract_weeknote`), with the site's navigation, sharing buttons and
other furniture left out."""
