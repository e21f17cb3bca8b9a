; ragls tag query: JSX patterns, added for javascript (which includes JSX) and tsx.

(jsx_opening_element name: (identifier) @name.reference.type)
(jsx_self_closing_element name: (identifier) @name.reference.type)
(jsx_attribute (property_identifier) @skip)
(jsx_closing_element name: (identifier) @skip)
